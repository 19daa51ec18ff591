package client_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every Go sample in the README and docs/ is a runnable example of this
// package, line for line, so that a sample cannot drift from the API:
// go test compiles and runs the examples.
func TestGoSamplesInTheDocsAreExamples(t *testing.T) {
	examples, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	known := normalized(string(examples))
	docs, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	samples := 0
	for _, doc := range append(docs, "../../README.md") {
		text, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, sample := range goBlocks(string(text)) {
			samples++
			assert.Contains(t, known, normalized(sample), "a Go sample in %s is not an example of port/client", doc)
		}
	}
	assert.Positive(t, samples, "the README has a Go sample")
}

// goBlocks returns the bodies of the ```go blocks of a Markdown text.
func goBlocks(md string) []string {
	var out []string
	for _, part := range strings.Split(md, "```go\n")[1:] {
		if end := strings.Index(part, "```"); end >= 0 {
			out = append(out, part[:end])
		}
	}
	return out
}

// normalized joins the trimmed, non-empty lines of s.
func normalized(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}
