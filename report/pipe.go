package report

// pipe hands what a run streams out (its trace entries) to a goroutine of
// its own, in batches, so that writing it overlaps the run on a machine
// with a core to spare. The order is kept, so the files are the same
// bytes; the run waits only when the writer is a whole queue behind. The
// simulation never reads anything back: a verdict cannot depend on it.
type pipe[T any] struct {
	size  int
	batch []T
	queue chan []T
	done  chan struct{}
}

// startPipe starts a goroutine that hands consume every batch of size
// values, in order, until close.
func startPipe[T any](size int, consume func([]T)) *pipe[T] {
	p := &pipe[T]{size: size, queue: make(chan []T, 8), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for batch := range p.queue {
			consume(batch)
		}
	}()
	return p
}

func (p *pipe[T]) add(v T) {
	if p.batch == nil {
		p.batch = make([]T, 0, p.size)
	}
	p.batch = append(p.batch, v)
	if len(p.batch) == p.size {
		p.queue <- p.batch
		p.batch = nil
	}
}

// close sends what is left and waits until all of it is consumed.
func (p *pipe[T]) close() {
	if p.queue == nil {
		return
	}
	if len(p.batch) > 0 {
		p.queue <- p.batch
	}
	close(p.queue)
	p.queue = nil
	<-p.done
}
