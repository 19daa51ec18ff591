package port

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/port/wire"
)

func TestTheWireBoundsTheBackupRateAsTheEngineDoes(t *testing.T) {
	assert.EqualValues(t, engine.MaxBackupRate, wire.MaxBackupRate)
}
