package sim

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// simulationPackages are the directories whose code runs inside a world and
// so must be deterministic.
var simulationPackages = []string{"../clock", "../network", "../sim", "../cluster"}

// forbidden names calls that break determinism in the simulation path.
var forbidden = map[string]string{
	"time.Now":   "wall-clock time; use env.Now()",
	"time.Since": "wall-clock time; use env.Now()",
	"time.Sleep": "real sleeping; set a timer",
	"time.After": "a real timer; set a timer",
	"time.Tick":  "a real ticker; set a timer",
}

// TestSimulationCodeIsDeterministic reads the source of the simulation
// packages (tests excluded) and rejects goroutines, select, wall-clock time
// and the global random sources.
func TestSimulationCodeIsDeterministic(t *testing.T) {
	fset := token.NewFileSet()
	for _, dir := range simulationPackages {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(fset, path, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.GoStmt:
					t.Errorf("%v: goroutine in the simulation path", fset.Position(n.Pos()))
				case *ast.SelectStmt:
					t.Errorf("%v: select picks at random among ready cases", fset.Position(n.Pos()))
				case *ast.SelectorExpr:
					pkg, ok := n.X.(*ast.Ident)
					if !ok {
						break
					}
					name := pkg.Name + "." + n.Sel.Name
					if why, bad := forbidden[name]; bad {
						t.Errorf("%v: %s: %s", fset.Position(n.Pos()), name, why)
					}
					if pkg.Name == "rand" && isGlobalRand(n.Sel.Name) {
						t.Errorf("%v: %s draws from the unseeded global source; use a seeded stream", fset.Position(n.Pos()), name)
					}
				}
				return true
			})
		}
	}
}

// isGlobalRand reports whether a math/rand(/v2) selector is a top-level
// function drawing from the global source, rather than a constructor.
func isGlobalRand(sel string) bool {
	switch sel {
	case "New", "NewPCG", "NewChaCha8", "NewSource", "NewZipf", "Rand", "Source", "PCG", "ChaCha8", "Zipf":
		return false
	}
	return true
}
