package cluster_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rooms of cluster/ and what each may not import (non-test files): the
// one-way dependencies the README's Layout table promises. A change that
// needs to break one belongs in another room.
var forbiddenImports = map[string][]string{
	"protocol":          {"cluster/"},
	"internal/planted":  {"cluster/"},
	"metadata":          {"cluster/broker", "cluster/controller", "cluster/raft", "cluster/monitor", "cluster/client", "cluster/storage", "cluster/journal"},
	"storage":           {"cluster/broker", "cluster/controller", "cluster/raft", "cluster/monitor", "cluster/client", "cluster/metadata", "cluster/journal"},
	"raft":              {"cluster/broker", "cluster/controller", "cluster/monitor", "cluster/client", "cluster/metadata", "cluster/storage"},
	"monitor":           {"cluster/broker", "cluster/controller", "cluster/client"},
	"controller":        {"cluster/broker", "cluster/client", "cluster/storage"},
	"broker":            {"cluster/controller", "cluster/client"},
	"group":             {"cluster/broker", "cluster/controller", "cluster/raft", "cluster/monitor", "cluster/client", "cluster/storage", "cluster/metadata"},
	"client":            {"cluster/broker", "cluster/group", "cluster/controller", "cluster/raft", "cluster/monitor", "cluster/storage", "cluster/metadata"},
	"journal":           {"cluster/broker", "cluster/controller", "cluster/raft", "cluster/monitor", "cluster/client", "cluster/storage", "cluster/metadata"},
	"node":              {"cluster/broker", "cluster/controller", "cluster/raft", "cluster/monitor", "cluster/client", "cluster/storage", "cluster/metadata", "cluster/journal"},
	"config":            {"cluster/broker", "cluster/controller", "cluster/raft", "cluster/monitor", "cluster/client", "cluster/storage", "cluster/metadata", "cluster/journal", "cluster/node"},
	"internal/nodetest": {"cluster/"},
}

func TestRoomsImportOneWay(t *testing.T) {
	const module = "github.com/tideline-sim/tideline/"
	rooms := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		room := filepath.ToSlash(filepath.Dir(path))
		if room == "." {
			return nil
		}
		forbidden, known := forbiddenImports[room]
		if !assert.True(t, known, "cluster/%s is a room the Layout table and this test do not know", room) {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			p = strings.TrimPrefix(p, module)
			assert.NotEqual(t, "cluster", p, "%s imports the root package", path)
			if slices.ContainsFunc(forbidden, func(prefix string) bool { return strings.HasPrefix(p, prefix) }) {
				t.Errorf("%s imports %s, which cluster/%s may not", path, p, room)
			}
		}
		rooms++
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, rooms, 20)
}
