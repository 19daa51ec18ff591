package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsAreTheSeeds(t *testing.T) {
	cfg, err := LoadConfig(envOf(nil), nil)
	require.NoError(t, err)
	assert.Equal(t, uint64(536870912), cfg.BlockCacheSize)
	assert.Equal(t, 10, cfg.BloomBitsPerKey)
	assert.Equal(t, CompressionLZ4, cfg.Compression)
	assert.Equal(t, CompressionZstd, cfg.BottommostCompression)
	assert.Equal(t, uint64(134217728), cfg.WriteBufferSize)
	assert.Equal(t, 4, cfg.MaxWriteBufferNumber)
	assert.Equal(t, uint64(104857600), cfg.RateLimitBytesPerSec)
	assert.Equal(t, 2, cfg.MaxBackgroundJobs)
	assert.Equal(t, 0, cfg.MemtableBloomPercent)
	assert.Equal(t, 4, cfg.Level0FileNumCompactionTrigger)
	assert.Equal(t, uint64(256<<20), cfg.MaxBytesForLevelBase)
	assert.Equal(t, 10.0, cfg.MaxBytesForLevelMultiplier)
}

func TestEveryVariableIsParsed(t *testing.T) {
	cfg, err := LoadConfig(envOf(map[string]string{
		"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE":         "2097152",
		"SPIRE_ROCKSDB_BLOOM_BITS_PER_KEY":       "0",
		"SPIRE_ROCKSDB_COMPRESSION":              "zstd",
		"SPIRE_ROCKSDB_WRITE_BUFFER_SIZE":        "65536",
		"SPIRE_ROCKSDB_MAX_WRITE_BUFFER_NUMBER":  "3",
		"SPIRE_ROCKSDB_RATE_LIMIT_BYTES_PER_SEC": "0",
		"SPIRE_ROCKSDB_MAX_BACKGROUND_JOBS":      "5",
		"SPIRE_ROCKSDB_MEMTABLE_BLOOM_PERCENT":   "3",
	}), nil)
	require.NoError(t, err)
	assert.Equal(t, uint64(2097152), cfg.BlockCacheSize)
	assert.Equal(t, 0, cfg.BloomBitsPerKey)
	assert.Equal(t, CompressionZstd, cfg.Compression)
	assert.Equal(t, uint64(65536), cfg.WriteBufferSize)
	assert.Equal(t, 3, cfg.MaxWriteBufferNumber)
	assert.Equal(t, uint64(0), cfg.RateLimitBytesPerSec)
	assert.Equal(t, 5, cfg.MaxBackgroundJobs)
	assert.Equal(t, 3, cfg.MemtableBloomPercent)

	cfg, err = LoadConfig(envOf(map[string]string{"SPIRE_ROCKSDB_COMPRESSION": "none"}), nil)
	require.NoError(t, err)
	assert.Equal(t, CompressionNone, cfg.BottommostCompression, "none means no compression anywhere")
	cfg, err = LoadConfig(envOf(map[string]string{"SPIRE_ROCKSDB_COMPRESSION": "Snappy"}), nil)
	require.NoError(t, err)
	assert.Equal(t, CompressionSnappy, cfg.Compression)
}

func TestProfiles(t *testing.T) {
	cases := map[string]func(t *testing.T, c Config){
		"write-heavy": func(t *testing.T, c Config) {
			assert.Equal(t, uint64(268435456), c.WriteBufferSize)
			assert.Equal(t, 6, c.MaxWriteBufferNumber)
			assert.Equal(t, 8, c.MaxBackgroundJobs)
			assert.Equal(t, uint64(512<<20), c.BlockCacheSize)
		},
		"read-heavy": func(t *testing.T, c Config) {
			assert.Equal(t, uint64(2147483648), c.BlockCacheSize)
			assert.Equal(t, CompressionLZ4, c.Compression)
		},
		"mixed": func(t *testing.T, c Config) {
			assert.Equal(t, uint64(1073741824), c.BlockCacheSize)
			assert.Equal(t, uint64(134217728), c.WriteBufferSize)
			assert.Equal(t, CompressionLZ4, c.Compression)
		},
	}
	for name, check := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := LoadConfig(envOf(map[string]string{"SPIRE_ROCKSDB_PROFILE": name}), nil)
			require.NoError(t, err)
			assert.Equal(t, Profile(name), cfg.Profile)
			check(t, cfg)
		})
	}
}

func TestExplicitValueBeatsProfileAndOverrideBeatsEnv(t *testing.T) {
	cfg, err := LoadConfig(envOf(map[string]string{
		"SPIRE_ROCKSDB_PROFILE":             "write-heavy",
		"SPIRE_ROCKSDB_MAX_BACKGROUND_JOBS": "3",
		"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE":    "4194304",
	}), map[string]string{"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE": "8388608"})
	require.NoError(t, err)
	assert.Equal(t, 3, cfg.MaxBackgroundJobs, "explicit variable beats the profile")
	assert.Equal(t, 6, cfg.MaxWriteBufferNumber, "profile still applies elsewhere")
	assert.Equal(t, uint64(8388608), cfg.BlockCacheSize, "override beats the environment")

	cfg, err = LoadConfig(envOf(nil), map[string]string{"SPIRE_ROCKSDB_PROFILE": "read-heavy"})
	require.NoError(t, err)
	assert.Equal(t, uint64(2<<30), cfg.BlockCacheSize, "a profile may come from overrides")
}

func TestBadValuesNameVariableValueAndRange(t *testing.T) {
	cases := []struct{ env, value, want string }{
		{"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE", "lots", "not a whole number"},
		{"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE", "-1", "negative"},
		{"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE", "0", "out of range"},
		{"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE", "", "empty"},
		{"SPIRE_ROCKSDB_BLOCK_CACHE_SIZE", "1.5", "not a whole number"},
		{"SPIRE_ROCKSDB_BLOOM_BITS_PER_KEY", "65", "out of range"},
		{"SPIRE_ROCKSDB_COMPRESSION", "gzip", "unknown compression"},
		{"SPIRE_ROCKSDB_WRITE_BUFFER_SIZE", "0", "out of range"},
		{"SPIRE_ROCKSDB_MAX_WRITE_BUFFER_NUMBER", "1", "out of range"},
		{"SPIRE_ROCKSDB_MAX_WRITE_BUFFER_NUMBER", "99999999999999999999", "not a whole number"},
		{"SPIRE_ROCKSDB_RATE_LIMIT_BYTES_PER_SEC", "fast", "not a whole number"},
		{"SPIRE_ROCKSDB_MAX_BACKGROUND_JOBS", "0", "out of range"},
		{"SPIRE_ROCKSDB_MEMTABLE_BLOOM_PERCENT", "26", "out of range"},
		{"SPIRE_ROCKSDB_PROFILE", "turbo", "unknown profile"},
	}
	for _, c := range cases {
		t.Run(c.env+"="+c.value, func(t *testing.T) {
			_, err := LoadConfig(envOf(map[string]string{c.env: c.value}), nil)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			msg := err.Error()
			assert.Contains(t, msg, c.env)
			assert.Contains(t, msg, `"`+c.value+`"`)
			assert.Contains(t, msg, c.want)
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := LoadConfig(envOf(map[string]string{
		"SPIRE_ROCKSDB_COMPRESSION":         "brotli",
		"SPIRE_ROCKSDB_MAX_BACKGROUND_JOBS": "-3",
	}), map[string]string{"SPIRE_ROCKSDB_TYPO": "1"})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Len(t, ce.Problems, 3)
	assert.Contains(t, err.Error(), "SPIRE_ROCKSDB_TYPO: unknown setting")
}

func TestValidateCatchesHandBuiltConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Compression = "lzma"
	cfg.MaxWriteBufferNumber = 0
	cfg.ColumnFamilies = []string{""}
	err := cfg.Validate()
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Len(t, ce.Problems, 3)
	_, err = Open(t.TempDir(), cfg)
	require.Error(t, err, "Open refuses an invalid config")
}

// Every setting says its kind and range for programs too (spire-port
// --describe, which Store.KV.Engine validates its options against).
func TestEverySettingDescribesItself(t *testing.T) {
	for _, s := range Settings {
		switch s.Kind {
		case "int":
			assert.LessOrEqual(t, s.Min, s.Max, s.Env)
		case "enum":
			assert.NotEmpty(t, s.Choices, s.Env)
		case "bool", "string":
		default:
			t.Errorf("%s: kind %q", s.Env, s.Kind)
		}
	}
}
