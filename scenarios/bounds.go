package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"

	"github.com/tideline-sim/tideline/internal/inputfile"
)

// The limits of a scenario file. A real scenario is a few kilobytes with a
// handful of faults; these stop a tiny file that expands to gigabytes (an
// alias bomb, tens of thousands of nested brackets) before the parser or
// the decoder ever sees it, each with its position and exit 2.
const (
	MaxFileBytes  = 1 << 20  // the file
	MaxDepth      = 32       // nesting of mappings and sequences, aliases expanded
	MaxValues     = 100_000  // values in the document, aliases expanded
	MaxListLength = 1000     // entries of one list or mapping (faults, topics, links, config, ...)
	MaxTextBytes  = 16 << 10 // one string (a description)

	MaxBrokers    = 100            // brokers in a cluster
	MaxPartitions = 200_000        // partitions of all topics together
	MaxReplicas   = 600_000        // replicas of all partitions together
	MaxClients    = 100            // producer and consumer entries together
	MaxMembers    = 1000           // consumer group members (instances) of all groups together
	MaxDuration   = 24 * time.Hour // simulated time: a day (the soak is an hour)
	// MaxLatency bounds a link's base latency, its jitter and a slow
	// link's added delay: a message that takes longer than a minute is
	// one that never arrives within any run's timeouts.
	MaxLatency = time.Minute
)

// readBounded reads a scenario file, refusing one past MaxFileBytes
// without reading it whole.
func readBounded(path string) ([]byte, error) {
	data, err := inputfile.Read(path, MaxFileBytes)
	if errors.Is(err, inputfile.ErrTooLarge) {
		return nil, &Error{File: path, Line: 1, Col: 1, Err: fmt.Errorf("the file is larger than %d bytes: a scenario is a few kilobytes", MaxFileBytes)}
	}
	return data, err
}

var byteOrderMark = []byte("\xEF\xBB\xBF")

// checkText bounds what the parser is given: the size, and how deep flow
// brackets nest (the parser recurses on each).
func checkText(file string, data []byte) error {
	if len(data) > MaxFileBytes {
		return &Error{File: file, Line: 1, Col: 1, Err: fmt.Errorf("the file is larger than %d bytes: a scenario is a few kilobytes", MaxFileBytes)}
	}
	line, col, depth := 1, 0, 0
	var quote byte // inside a quoted scalar: its quote
	comment := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		col++
		if c >= utf8.RuneSelf {
			// YAML is Unicode text: bytes that are not UTF-8 are refused
			// here, where their place is known, not replaced silently.
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				return &Error{File: file, Line: line, Col: col, Err: fmt.Errorf("byte 0x%02x is not UTF-8: a scenario is UTF-8 text", c)}
			}
			i += size - 1
			continue
		}
		if c == '\n' {
			line, col, comment = line+1, 0, false
			continue
		}
		switch {
		case comment:
		case quote == '"' && c == '\\':
			i++ // an escaped character
			col++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			comment = true
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth {
				return &Error{File: file, Line: line, Col: col, Err: fmt.Errorf("brackets nest deeper than %d levels", MaxDepth)}
			}
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}

// checkTree bounds the parsed document: one document only, and with
// aliases expanded (as decoding would) a bounded depth, count of values,
// length of each list and of each string.
func checkTree(file string, f *ast.File) error {
	if len(f.Docs) > 1 {
		line, col := 1, 1
		if tk := f.Docs[1].Start; tk != nil {
			line, col = tk.Position.Line, tk.Position.Column
		} else if tk := f.Docs[1].GetToken(); tk != nil {
			line, col = tk.Position.Line, tk.Position.Column
		}
		return &Error{File: file, Line: line, Col: col, Err: fmt.Errorf("a scenario file holds one YAML document; this is a second one")}
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil
	}
	t := &tree{file: file, anchors: map[string]ast.Node{}, memo: map[ast.Node]shape{}}
	_, err := t.shape(f.Docs[0].Body, 1)
	return err
}

// shape is what a node expands to: how many values and how deep.
type shape struct{ values, depth int }

type tree struct {
	file    string
	anchors map[string]ast.Node // by name, the latest definition
	memo    map[ast.Node]shape  // anchored values, measured once
	total   int
}

func (t *tree) fail(n ast.Node, format string, args ...any) error {
	e := &Error{File: t.file, Line: 1, Col: 1, Err: fmt.Errorf(format, args...)}
	if tk := n.GetToken(); tk != nil {
		e.Line, e.Col = tk.Position.Line, tk.Position.Column
	}
	return e
}

func (t *tree) shape(n ast.Node, depth int) (shape, error) {
	if n == nil {
		return shape{}, nil
	}
	if depth > MaxDepth {
		return shape{}, t.fail(n, "values nest deeper than %d levels", MaxDepth)
	}
	var s shape
	add := func(child ast.Node) error {
		c, err := t.shape(child, depth+1)
		s.values += c.values
		s.depth = max(s.depth, c.depth+1)
		return err
	}
	switch n := n.(type) {
	case *ast.MappingNode:
		if len(n.Values) > MaxListLength {
			return s, t.fail(n, "a mapping with %d entries: at most %d", len(n.Values), MaxListLength)
		}
		for _, kv := range n.Values {
			if err := add(kv.Value); err != nil {
				return s, err
			}
		}
	case *ast.MappingValueNode:
		if err := add(n.Value); err != nil {
			return s, err
		}
	case *ast.SequenceNode:
		if len(n.Values) > MaxListLength {
			return s, t.fail(n, "a list with %d entries: at most %d", len(n.Values), MaxListLength)
		}
		for _, v := range n.Values {
			if err := add(v); err != nil {
				return s, err
			}
		}
	case *ast.TagNode:
		return t.shape(n.Value, depth)
	case *ast.AnchorNode:
		inner, err := t.shape(n.Value, depth)
		if err != nil {
			return s, err
		}
		t.anchors[n.Name.String()] = n.Value
		t.memo[n.Value] = inner
		return inner, nil
	case *ast.AliasNode:
		target, ok := t.anchors[n.Value.String()]
		if !ok {
			return s, t.fail(n, "alias *%s names no anchor defined before it", n.Value.String())
		}
		inner := t.memo[target]
		if depth+inner.depth > MaxDepth {
			return s, t.fail(n, "alias *%s nests values deeper than %d levels", n.Value.String(), MaxDepth)
		}
		if t.total += inner.values; t.total > MaxValues {
			return s, t.fail(n, "aliases expand the document past %d values", MaxValues)
		}
		return inner, nil
	case *ast.StringNode:
		if len(n.Value) > MaxTextBytes {
			return s, t.fail(n, "a text of %d bytes: at most %d", len(n.Value), MaxTextBytes)
		}
	case *ast.LiteralNode:
		if n.Value != nil && len(n.Value.Value) > MaxTextBytes {
			return s, t.fail(n, "a text of %d bytes: at most %d", len(n.Value.Value), MaxTextBytes)
		}
	}
	s.values++
	if t.total++; t.total > MaxValues {
		return s, t.fail(n, "the document holds more than %d values", MaxValues)
	}
	return s, nil
}

// trimByteOrderMark drops a UTF-8 byte-order mark, which some editors
// write and YAML allows.
func trimByteOrderMark(data []byte) []byte { return bytes.TrimPrefix(data, byteOrderMark) }
