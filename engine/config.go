package engine

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Compression names a RocksDB compression type as the seed spells it.
type Compression string

// The accepted compressions.
const (
	CompressionNone   Compression = "none"
	CompressionSnappy Compression = "snappy"
	CompressionLZ4    Compression = "lz4"
	CompressionZstd   Compression = "zstd"
	// CompressionDisabled, for the last level only, leaves it to the
	// compression of the others (RocksDB's default).
	CompressionDisabled Compression = "disabled"
)

// Profile names one of the seed's tuning profiles.
type Profile string

// The accepted profiles. ProfileDefault applies no profile.
const (
	ProfileDefault    Profile = ""
	ProfileWriteHeavy Profile = "write-heavy"
	ProfileReadHeavy  Profile = "read-heavy"
	ProfileMixed      Profile = "mixed"
)

const (
	kib = uint64(1) << 10
	mib = uint64(1) << 20
	gib = uint64(1) << 30
	tib = uint64(1) << 40
)

// Config holds every RocksDB knob the storage engine exposes. Build it with
// DefaultConfig or LoadConfig; the zero value is not valid.
type Config struct {
	// Profile is recorded for reporting; LoadConfig has already applied it.
	Profile Profile
	// BlockCacheSize is the LRU block cache capacity in bytes.
	BlockCacheSize uint64
	// BloomBitsPerKey sizes the bloom filter; 0 disables it.
	BloomBitsPerKey int
	// Compression is used on every level but the bottommost.
	Compression Compression
	// BottommostCompression is used on the last level: zstd unless
	// compression is off altogether; "disabled" leaves it to Compression,
	// as RocksDB does by default.
	BottommostCompression Compression
	// Compaction holds the compaction style, the TTL and the compression
	// options (tuning_compaction.go).
	Compaction CompactionTuning
	// ValueTTL, when above 0, opens a TTL database (ttl.go): values older
	// than this many seconds go at compaction.
	ValueTTL int
	// InMemory keeps the whole database in memory (RocksDB's in-memory
	// env, erlang-rocksdb's memenv): nothing is written to the disk, and
	// it is gone when the sidecar stops.
	InMemory bool
	// OptimisticTransactions opens an optimistic transaction database:
	// Engine.BeginTxn works (txn.go).
	OptimisticTransactions bool
	// WriteBufferSize is the size of one memtable in bytes.
	WriteBufferSize uint64
	// MaxWriteBufferNumber is how many memtables may exist at once.
	MaxWriteBufferNumber int
	// RateLimitBytesPerSec caps flush and compaction I/O; 0 disables it.
	RateLimitBytesPerSec uint64
	// MaxBackgroundJobs bounds concurrent flushes and compactions.
	MaxBackgroundJobs int
	// MemtableBloomPercent is the share of the write buffer, in percent,
	// given to a whole-key bloom filter in each memtable (0: none). Gets
	// of keys not written recently then skip the memtable search, at some
	// cost to every write.
	MemtableBloomPercent int
	// DBWriteBufferSize bounds the memtables of all column families
	// together (RocksDB's db_write_buffer_size): past it the largest is
	// flushed. 0 means WriteBufferSize*MaxWriteBufferNumber, what one
	// family may hold, so a single-family database behaves as before.
	DBWriteBufferSize uint64
	// MinFreeDiskBytes is the free space below which writes are refused;
	// 0 means WriteBufferSize*MaxWriteBufferNumber + 64 MiB.
	MinFreeDiskBytes uint64

	// Leveled compaction as the seed draws it. Not set from the environment.
	Level0FileNumCompactionTrigger int
	MaxBytesForLevelBase           uint64
	MaxBytesForLevelMultiplier     float64

	// ColumnFamilies are opened (or created) besides "default" and any the
	// database already has on disk.
	ColumnFamilies []string

	// ReadOnly opens the database with RocksDB's OpenForReadOnly: it must
	// exist, its LOCK is not taken (another process may hold it and go on
	// writing), it is seen as it was at open, and every write, flush or
	// compaction fails with RocksDB's NotSupported. Not set from the
	// environment (the sidecar's --read-only).
	ReadOnly bool

	// Tuning holds the options beyond the seed's (see tuning.go).
	Tuning Tuning
}

// DefaultConfig returns the seed's defaults.
func DefaultConfig() Config {
	return Config{
		BlockCacheSize:                 512 * mib,
		BloomBitsPerKey:                10,
		Compression:                    CompressionLZ4,
		BottommostCompression:          CompressionZstd,
		Compaction:                     defaultCompactionTuning(),
		WriteBufferSize:                128 * mib,
		MaxWriteBufferNumber:           4,
		RateLimitBytesPerSec:           100 * mib,
		MaxBackgroundJobs:              2,
		Level0FileNumCompactionTrigger: 4,
		MaxBytesForLevelBase:           256 * mib,
		MaxBytesForLevelMultiplier:     10,
		Tuning:                         defaultTuning(),
	}
}

// Setting describes one SPIRE_ROCKSDB_* variable: its name, the flag that
// overrides it, its default and its accepted range. Settings is the single
// table that the environment loader, the sidecar's flags and the docs share.
type Setting struct {
	Env     string
	Flag    string
	Default string
	Range   string
	Help    string
	// Kind ("int", "enum", "bool" or "string"), Min and Max (int) and Choices (enum)
	// say the same as Range for programs: Store.KV.Engine validates its
	// options against them (spire-port --describe) instead of a copy.
	Kind     string
	Min, Max int64
	Choices  []string
	apply    func(c *Config, value string) error
}

// Settings lists every knob, in the order the docs present them.
var Settings = []Setting{
	enumSetting("SPIRE_ROCKSDB_PROFILE", "(none)", "tuning profile applied before the other variables",
		[]string{"write-heavy", "read-heavy", "mixed"}, func(c *Config, v string) error {
			p, err := parseProfile(v)
			if err == nil {
				c.Profile = p
			}
			return err
		}),
	uintSetting("SPIRE_ROCKSDB_BLOCK_CACHE_SIZE", "536870912 (512 MiB)", "1048576 .. 1099511627776 bytes (1 MiB .. 1 TiB)",
		"LRU block cache capacity", mib, tib, func(c *Config, n uint64) { c.BlockCacheSize = n }),
	uintSetting("SPIRE_ROCKSDB_BLOOM_BITS_PER_KEY", "10", "0 .. 64 (0 disables the bloom filter)",
		"bloom filter bits per key; 10 gives ~1% false positives", 0, 64, func(c *Config, n uint64) { c.BloomBitsPerKey = int(n) }),
	enumSetting("SPIRE_ROCKSDB_COMPRESSION", "lz4", "compression of every level but the last (the last uses zstd unless none)",
		[]string{"none", "snappy", "lz4", "zstd"}, func(c *Config, v string) error {
			comp, err := parseCompression(v)
			if err == nil {
				c.Compression = comp
				c.BottommostCompression = CompressionZstd
				if comp == CompressionNone {
					c.BottommostCompression = CompressionNone
				}
			}
			return err
		}),
	uintSetting("SPIRE_ROCKSDB_WRITE_BUFFER_SIZE", "134217728 (128 MiB)", "65536 .. 68719476736 bytes (64 KiB .. 64 GiB)",
		"size of one memtable", 64*kib, 64*gib, func(c *Config, n uint64) { c.WriteBufferSize = n }),
	uintSetting("SPIRE_ROCKSDB_MAX_WRITE_BUFFER_NUMBER", "4", "2 .. 64",
		"memtables that may exist at once (one active, the rest flushing)", 2, 64, func(c *Config, n uint64) { c.MaxWriteBufferNumber = int(n) }),
	uintSetting("SPIRE_ROCKSDB_RATE_LIMIT_BYTES_PER_SEC", "104857600 (100 MiB/s)", "0 .. 1099511627776 (0 disables the limiter)",
		"cap on flush and compaction write rate", 0, tib, func(c *Config, n uint64) { c.RateLimitBytesPerSec = n }),
	uintSetting("SPIRE_ROCKSDB_MEMTABLE_BLOOM_PERCENT", "0 (no memtable filter)", "0 .. 25 (percent of the write buffer)",
		"whole-key bloom filter in each memtable: faster gets under recent writes, slower writes", 0, 25,
		func(c *Config, n uint64) { c.MemtableBloomPercent = int(n) }),
	uintSetting("SPIRE_ROCKSDB_DB_WRITE_BUFFER_SIZE", "0 (auto: write buffer size x number, at most half the block cache or two write buffers when memtables are charged to it: 256 MiB)", "0 .. 1099511627776 bytes",
		"memtables of all column families together; past it the largest is flushed", 0, tib,
		func(c *Config, n uint64) { c.DBWriteBufferSize = n }),
	uintSetting("SPIRE_ROCKSDB_MIN_FREE_DISK_BYTES", "0 (auto: all memtables + 64 MiB)", "0 .. 1099511627776",
		"free space below which writes are refused until space returns", 0, tib, func(c *Config, n uint64) { c.MinFreeDiskBytes = n }),
	uintSetting("SPIRE_ROCKSDB_MAX_BACKGROUND_JOBS", "2", "1 .. 256",
		"concurrent flushes and compactions", 1, 256, func(c *Config, n uint64) { c.MaxBackgroundJobs = int(n) }),
}

// profiles holds the seed's tuning profiles as settings they imply.
var profiles = map[Profile]map[string]string{
	ProfileWriteHeavy: {
		"SPIRE_ROCKSDB_WRITE_BUFFER_SIZE":       "268435456",
		"SPIRE_ROCKSDB_MAX_WRITE_BUFFER_NUMBER": "6",
		"SPIRE_ROCKSDB_MAX_BACKGROUND_JOBS":     "8",
	},
	ProfileReadHeavy: {
		"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE": "2147483648",
		"SPIRE_ROCKSDB_COMPRESSION":      "lz4",
	},
	ProfileMixed: {
		"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE":  "1073741824",
		"SPIRE_ROCKSDB_WRITE_BUFFER_SIZE": "134217728",
		"SPIRE_ROCKSDB_COMPRESSION":       "lz4",
	},
}

// ConfigError reports every problem found in a configuration at once.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return "engine: invalid configuration: " + strings.Join(e.Problems, "; ")
}

// LoadConfig builds a Config from the defaults, then the profile, then the
// variables found by lookup (normally os.LookupEnv), then overrides (keyed
// by variable name: the sidecar's flags and the Elixir options land here).
// A value set explicitly always beats the profile's. Unknown SPIRE_ROCKSDB_*
// names in overrides are errors; lookup is only asked for known names.
func LoadConfig(lookup func(string) (string, bool), overrides map[string]string) (Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	var problems []string
	known := make(map[string]bool, len(Settings))
	for _, s := range Settings {
		known[s.Env] = true
	}
	var unknown []string
	for name := range overrides {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		problems = append(problems, fmt.Sprintf("%s: unknown setting (known: %s)", name, strings.Join(SettingNames(), ", ")))
	}

	explicit := make(map[string]string)
	for _, s := range Settings {
		if v, ok := lookup(s.Env); ok {
			explicit[s.Env] = v
		}
		if v, ok := overrides[s.Env]; ok {
			explicit[s.Env] = v
		}
	}

	cfg := DefaultConfig()
	if v, ok := explicit["SPIRE_ROCKSDB_PROFILE"]; ok {
		p, err := parseProfile(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("SPIRE_ROCKSDB_PROFILE=%q: %v", v, err))
		} else {
			cfg.Profile = p
			for _, s := range Settings {
				if pv, ok := profiles[p][s.Env]; ok {
					if err := s.apply(&cfg, pv); err != nil {
						panic(fmt.Sprintf("engine: profile %s has a bad %s: %v", p, s.Env, err))
					}
				}
			}
		}
	}
	for _, s := range Settings {
		v, ok := explicit[s.Env]
		if !ok || s.Env == "SPIRE_ROCKSDB_PROFILE" {
			continue
		}
		if err := s.apply(&cfg, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s=%q: %v", s.Env, v, err))
		}
	}
	if len(problems) > 0 {
		return Config{}, &ConfigError{Problems: problems}
	}
	return cfg, cfg.Validate()
}

// SettingNames lists the variable names of Settings.
func SettingNames() []string {
	names := make([]string, len(Settings))
	for i, s := range Settings {
		names[i] = s.Env
	}
	return names
}

// Validate checks a Config built by hand; LoadConfig calls it too.
func (c Config) Validate() error {
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	check(c.BlockCacheSize >= mib && c.BlockCacheSize <= tib, "BlockCacheSize %d: want 1 MiB .. 1 TiB", c.BlockCacheSize)
	check(c.BloomBitsPerKey >= 0 && c.BloomBitsPerKey <= 64, "BloomBitsPerKey %d: want 0 .. 64", c.BloomBitsPerKey)
	_, err := parseCompression(string(c.Compression))
	check(err == nil, "Compression %q: want none, snappy, lz4 or zstd", c.Compression)
	_, err = parseCompression(string(c.BottommostCompression))
	check(err == nil || c.BottommostCompression == CompressionDisabled,
		"BottommostCompression %q: want disabled, none, snappy, lz4 or zstd", c.BottommostCompression)
	check(c.WriteBufferSize >= 64*kib && c.WriteBufferSize <= 64*gib, "WriteBufferSize %d: want 64 KiB .. 64 GiB", c.WriteBufferSize)
	check(c.MaxWriteBufferNumber >= 2 && c.MaxWriteBufferNumber <= 64, "MaxWriteBufferNumber %d: want 2 .. 64", c.MaxWriteBufferNumber)
	check(c.DBWriteBufferSize <= tib, "DBWriteBufferSize %d: want 0 .. 1 TiB", c.DBWriteBufferSize)
	check(c.RateLimitBytesPerSec <= tib, "RateLimitBytesPerSec %d: want 0 .. 1 TiB", c.RateLimitBytesPerSec)
	check(c.MaxBackgroundJobs >= 1 && c.MaxBackgroundJobs <= 256, "MaxBackgroundJobs %d: want 1 .. 256", c.MaxBackgroundJobs)
	check(c.MemtableBloomPercent >= 0 && c.MemtableBloomPercent <= 25, "MemtableBloomPercent %d: want 0 .. 25", c.MemtableBloomPercent)
	check(c.Level0FileNumCompactionTrigger >= 1, "Level0FileNumCompactionTrigger %d: want >= 1", c.Level0FileNumCompactionTrigger)
	check(c.MaxBytesForLevelBase >= mib, "MaxBytesForLevelBase %d: want >= 1 MiB", c.MaxBytesForLevelBase)
	check(c.MaxBytesForLevelMultiplier >= 2, "MaxBytesForLevelMultiplier %g: want >= 2", c.MaxBytesForLevelMultiplier)
	for _, cf := range c.ColumnFamilies {
		check(validColumnFamilyName(cf) == nil, "ColumnFamilies: %v", validColumnFamilyName(cf))
	}
	if len(problems) > 0 {
		return &ConfigError{Problems: problems}
	}
	return nil
}

func parseUint(v string, lo, hi uint64) (uint64, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return 0, fmt.Errorf("empty; want a whole number from %d to %d", lo, hi)
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("negative; want a whole number from %d to %d", lo, hi)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a whole number; want %d .. %d", lo, hi)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("out of range; want %d .. %d", lo, hi)
	}
	return n, nil
}

func parseCompression(v string) (Compression, error) {
	switch c := Compression(strings.ToLower(strings.TrimSpace(v))); c {
	case CompressionNone, CompressionSnappy, CompressionLZ4, CompressionZstd:
		return c, nil
	}
	return "", fmt.Errorf("unknown compression; want none, snappy, lz4 or zstd")
}

func parseProfile(v string) (Profile, error) {
	switch p := Profile(strings.ToLower(strings.TrimSpace(v))); p {
	case ProfileWriteHeavy, ProfileReadHeavy, ProfileMixed:
		return p, nil
	}
	return "", fmt.Errorf("unknown profile; want write-heavy, read-heavy or mixed")
}

func validColumnFamilyName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: column family name is empty", ErrInvalidArgument)
	}
	if len(name) > 255 {
		return fmt.Errorf("%w: column family name longer than 255 bytes", ErrInvalidArgument)
	}
	// RocksDB's MANIFEST keeps the name whole, but its C API reads names as
	// C strings: one with a NUL would come back cut short after a restart.
	if strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w: column family name %q contains a NUL byte", ErrInvalidArgument, name)
	}
	return nil
}
