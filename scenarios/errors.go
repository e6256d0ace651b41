package scenarios

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/tideline-sim/tideline/internal/safetext"
	"github.com/tideline-sim/tideline/internal/suggest"
)

// Error is a mistake in a scenario file, with where it is.
type Error struct {
	File      string
	Line, Col int
	Err       error
}

func (e *Error) Error() string {
	file := safetext.Show(e.File) // a path is echoed too: never raw escapes
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", file, e.Err)
	}
	return fmt.Sprintf("%s:%d:%d: %v", file, e.Line, e.Col, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// fromYAML turns a go-yaml error into an Error at its token, rewording the
// library's messages into what to write instead.
func fromYAML(file string, err error) error {
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return &Error{File: file, Err: err}
	}
	msg := ye.GetMessage()
	var unknown *yaml.UnknownFieldError
	if errors.As(err, &unknown) {
		msg = rewordUnknownField(msg)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = fmt.Sprintf("want %s", kindOf(te.DstType.String()))
		if tk := ye.GetToken(); tk != nil {
			msg = fmt.Sprintf("%q: want %s", tk.Value, kindOf(te.DstType.String()))
		}
	}
	e := &Error{File: file, Err: errors.New(msg)}
	if tk := ye.GetToken(); tk != nil {
		e.Line, e.Col = tk.Position.Line, tk.Position.Column
	}
	return e
}

// rewordUnknownField turns `unknown field "targt"` into a suggestion of the
// nearest known key.
func rewordUnknownField(msg string) string {
	name := msg
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		if s, err := strconv.Unquote(msg[i:]); err == nil {
			name = s
		}
	}
	if best := suggest.Nearest(name, knownKeys); best != "" && best != name {
		return fmt.Sprintf("unknown field %q (did you mean %q?)", name, best)
	}
	return fmt.Sprintf("unknown field %q", name)
}

func kindOf(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "a whole number"
	case strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map"), strings.Contains(goType, "raw"):
		return "a mapping of keys to values"
	}
	return "a string"
}

// knownKeys are every key of the schema, for suggestions.
var knownKeys = []string{
	"name", "description", "duration", "settle", "seed", "cluster", "network", "workload", "faults", "expect",
	"brokers", "racks", "rack", "config", "topics", "partitions", "replication.factor",
	"latency", "base", "jitter", "shape", "loss", "duplicate", "links", "from", "to",
	"producers", "consumers", "topic", "rate", "acks", "enable.idempotence", "start", "stop", "group.id", "instances",
	"at", "for", "crash", "power-loss", "stop", "restart", "pause", "resume", "isolate", "partition", "one-way",
	"heal", "slow-link", "delay", "elect", "unclean", "type", "reassign", "replicas", "all-partitions-of",
}

// path is where in the document a value sits: keys and list indexes.
type path []any

func (p path) key(k string) path { return append(p[:len(p):len(p)], k) }
func (p path) at(i int) path     { return append(p[:len(p):len(p)], i) }

func (p path) String() string {
	var b strings.Builder
	for i, e := range p {
		switch e := e.(type) {
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e)
		case int:
			fmt.Fprintf(&b, "[%d]", e)
		}
	}
	return b.String()
}

// locate finds the line and column of the value at p (or of the nearest
// enclosing node that exists).
func locate(file *ast.File, p path) (line, col int) {
	if file == nil || len(file.Docs) == 0 || len(p) == 0 {
		return 1, 1
	}
	node := file.Docs[0].Body
	line, col = position(node)
	for _, step := range p {
		next := child(node, step)
		if next == nil {
			return line, col
		}
		node = next
		line, col = position(node)
	}
	return line, col
}

// locateKey finds the position of the key at the end of p.
func locateKey(file *ast.File, p path) (line, col int) {
	line, col = locate(file, p[:len(p)-1])
	if file == nil || len(file.Docs) == 0 {
		return line, col
	}
	node := file.Docs[0].Body
	for _, step := range p[:len(p)-1] {
		if node = child(node, step); node == nil {
			return line, col
		}
	}
	name, _ := p[len(p)-1].(string)
	for _, v := range mappingValues(node) {
		if v.Key != nil && v.Key.String() == name {
			return position(v.Key)
		}
	}
	return line, col
}

func position(n ast.Node) (int, int) {
	if n == nil || n.GetToken() == nil {
		return 0, 0
	}
	pos := n.GetToken().Position
	return pos.Line, pos.Column
}

func child(n ast.Node, step any) ast.Node {
	switch step := step.(type) {
	case string:
		for _, v := range mappingValues(n) {
			if v.Key != nil && v.Key.String() == step {
				return v.Value
			}
		}
	case int:
		if s, ok := n.(*ast.SequenceNode); ok && step < len(s.Values) {
			return s.Values[step]
		}
	}
	return nil
}

// mappingValues returns the key-value pairs of a mapping node; go-yaml
// represents a mapping of one pair as the pair itself.
func mappingValues(n ast.Node) []*ast.MappingValueNode {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}
	}
	return nil
}
