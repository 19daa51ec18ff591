package engine

import (
	"fmt"
	"strings"

	"github.com/linxGnu/grocksdb"
)

// The options no setting names, in RocksDB's own option-string syntax
// ("max_log_file_size=1048576;use_fsync=false"): the :rocksdb app passes
// erlang-rocksdb's other open options this way, so that each is applied by
// RocksDB's own parser rather than dropped. They are applied after every
// setting, so they win.
var optionsStringSetting = Setting{
	Env: "SPIRE_ROCKSDB_OPTION_STRING", Flag: "option-string", Default: "(none)",
	Range: "RocksDB's option string: name=value pairs joined by ;",
	Help:  "RocksDB options no other setting names, applied last", Kind: "string",
	apply: func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if v == "" {
			c.Tuning.OptionsString = ""
			return nil
		}
		o, err := grocksdb.GetOptionsFromString(nil, v)
		if err != nil {
			return fmt.Errorf("RocksDB refuses the option string: %v", err)
		}
		o.Destroy()
		c.Tuning.OptionsString = v
		return nil
	},
}

func init() { Settings = append(Settings, optionsStringSetting) }

// withOptionsString applies s to o, returning the options to use.
func withOptionsString(o *grocksdb.Options, s string) *grocksdb.Options {
	if s == "" {
		return o
	}
	o2, err := grocksdb.GetOptionsFromString(o, s)
	if err != nil {
		return o // checked when the setting was read
	}
	o.Destroy()
	return o2
}
