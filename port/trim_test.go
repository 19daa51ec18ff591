package port

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRestTrimmerTrimsAtRestOnly(t *testing.T) {
	var r restTrimmer
	assert.False(t, r.check(5), "requests came since the last check: busy")
	assert.False(t, r.check(9), "still busy")
	var trims []int
	for i := 1; i <= 20; i++ {
		if r.check(9) {
			trims = append(trims, i)
		}
	}
	assert.Equal(t, []int{1, 2, 3, 4, 5, 10, 15, 20}, trims,
		"each of the first restTrimEvery quiet checks, then every restTrimEvery")
	assert.False(t, r.check(10), "a request: busy again")
	assert.True(t, r.check(10), "quiet again: trim at once")
}
