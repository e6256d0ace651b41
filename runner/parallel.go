package runner

import "sync"

// Parallel calls run(i) for every i in [0, n) on up to workers goroutines
// and calls done(i) on the caller's goroutine as each finishes. Each run
// builds its own world, so parallelism lives across runs and never inside
// one; callers store results by index, so nothing depends on which worker
// ran what or in what order they finished.
func Parallel(n, workers int, run func(i int), done func(i int)) {
	workers = max(1, min(workers, n))
	jobs := make(chan int)
	finished := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				run(i)
				finished <- i
			}
		}()
	}
	go func() {
		for i := range n {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(finished)
	}()
	for i := range finished {
		if done != nil {
			done(i)
		}
	}
}
