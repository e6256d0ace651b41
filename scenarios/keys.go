package scenarios

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/tideline-sim/tideline/internal/suggest"
)

// checkKeys reports the first key, in file order, that the schema does
// not know, with the nearest key of that mapping as a suggestion. The
// decoder's own check reports one of several unknown keys of a mapping
// in map order, which varies from run to run.
func checkKeys(file string, f *ast.File) error {
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil
	}
	return keysOf(file, f.Docs[0].Body, reflect.TypeOf(rawScenario{}))
}

// keysOf checks n's keys against t. A tree without aliases reaches each
// node once; an alias's target was checked where it was defined.
func keysOf(file string, n ast.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := n.(type) {
	case *ast.TagNode:
		return keysOf(file, x.Value, t)
	case *ast.AnchorNode:
		return keysOf(file, x.Value, t)
	case *ast.AliasNode, nil:
		return nil
	}
	switch t.Kind() {
	case reflect.Slice:
		if s, ok := n.(*ast.SequenceNode); ok {
			for _, v := range s.Values {
				if err := keysOf(file, v, t.Elem()); err != nil {
					return err
				}
			}
		}
	case reflect.Struct:
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			fields[name] = t.Field(i).Type
			names = append(names, name)
		}
		for _, kv := range mappingValues(n) {
			if kv.Key == nil {
				continue
			}
			key := kv.Key.String()
			ft, ok := fields[key]
			if !ok {
				msg := fmt.Sprintf("unknown field %s", quoted(key))
				if best := suggest.Nearest(key, names); best != "" && best != key {
					msg += fmt.Sprintf(" (did you mean %q?)", best)
				} else {
					msg += " (known here: " + strings.Join(names, ", ") + ")"
				}
				line, col := position(kv.Key)
				return &Error{File: file, Line: line, Col: col, Err: fmt.Errorf("%s", msg)}
			}
			if err := keysOf(file, kv.Value, ft); err != nil {
				return err
			}
		}
	}
	return nil
}
