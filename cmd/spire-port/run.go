package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/etf"
	"github.com/spiredb/spire-port/port"
	"github.com/spiredb/spire-port/port/pipe"
	"github.com/spiredb/spire-port/port/wire"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// defaultSpin is how long the reader polls stdin before parking; see
// pipe.SpinReader and the README's performance section for the trade.
var defaultSpin = pipe.DefaultSpin

// Exit statuses.
const (
	exitOK    = 0
	exitOpen  = 1
	exitUsage = 2
)

// run is the whole program; main only wires it to the process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, lookup func(string) (string, bool), sigs <-chan os.Signal) int {
	if isTool(args) {
		return runTool(args, stdout, stderr)
	}
	logs := port.NewLogWriter(stderr)
	logger := log.New(logs, "spire-port: ", log.LstdFlags|log.Lmsgprefix)
	fs := flag.NewFlagSet("spire-port", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("path", "", "data root; RocksDB lives in <path>/data, checkpoints in <path>/checkpoints (default $SPIRE_DATA_DIR)")
	maxFrame := fs.Int("max-frame", wire.DefaultMaxFrame, "largest accepted packet in bytes")
	codecName := fs.String("codec", "etf", "wire codec: etf or msgpack")
	workers := fs.Int("workers", 4, "goroutines serving slow requests (scans, syncs, flush, compaction)")
	maxIters := fs.Int("max-iterators", 1024, "most cursors (and transactions) open at once")
	maxSnaps := fs.Int("max-snapshots", 1024, "most snapshots open at once")
	idle := fs.Duration("idle-timeout", 5*time.Minute, "close cursors, snapshots and transactions unused for this long (0: never)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	spin := fs.Duration("spin", defaultSpin, "keep polling stdin this long before parking (0 parks at once); trades idle CPU for latency")
	busySpin := fs.Duration("busy-spin", 0, "the spin after a burst of several requests (several callers), at most --spin: less sidecar CPU per request under load, at some cost in throughput (default: as --spin)")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile to this file until exit (for `go tool pprof`)")
	logFrames := fs.Bool("log-frames", false, "send log lines to the port's owner as {log, Line} frames (id 0) instead of stderr")
	dataDirFlag := fs.String("data-dir", "", "RocksDB's own directory (default <path>/data); the :rocksdb app opens a database in exactly the path it was given")
	describe := fs.Bool("describe", false, "print the settings table (every SPIRE_ROCKSDB_* variable, its kind and range) as one ETF term and exit")
	replySocket := fs.String("reply-socket", "", "connect to this Unix socket (the port's owner listens on it) and write there the replies to requests whose id has bit 62 set")
	readOnly := fs.Bool("read-only", false, "open the database read-only (RocksDB's OpenForReadOnly): it must exist, its LOCK is not taken, writes fail")
	listFamilies := fs.Bool("list-column-families", false, "print {ok, [Name]} or {error, Msg} as one ETF term for the database in --data-dir (or <path>/data) and exit, without opening it")
	var checkpointRoots []string
	fs.Func("checkpoint-root", "a directory checkpoints may be written under (repeatable; default <path>/checkpoints; the first takes relative paths)", func(v string) error {
		checkpointRoots = append(checkpointRoots, v)
		return nil
	})
	var families []string
	fs.Func("column-family", "open or create this column family besides default (repeatable)", func(v string) error {
		families = append(families, v)
		return nil
	})
	overrides := map[string]string{}
	for _, s := range engine.Settings {
		s := s
		fs.Func(s.Flag, fmt.Sprintf("%s (overrides %s; default %s; %s)", s.Help, s.Env, s.Default, s.Range), func(v string) error {
			overrides[s.Env] = v
			return nil
		})
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: spire-port --path DIR [flags]\n       %s\n\nspire-port serves a RocksDB database as an Erlang port ({packet, 4} frames on stdin/stdout).\n\n", strings.ReplaceAll(toolUsage, "\n", "\n       "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *describe {
		_, _ = stdout.Write(describeSettings()) // not serving: stdout is free
		return exitOK
	}
	if *showVersion {
		fmt.Fprintf(stdout, "spire-port %s\n", version) // not serving: stdout is free
		return exitOK
	}
	if fs.NArg() > 0 {
		logger.Printf("unexpected arguments: %v", fs.Args())
		return exitUsage
	}
	if *path == "" {
		*path, _ = lookup("SPIRE_DATA_DIR")
	}
	if *path == "" {
		logger.Printf("no data directory: pass --path or set SPIRE_DATA_DIR")
		return exitUsage
	}
	codec, err := wire.CodecByName(*codecName)
	if err != nil {
		logger.Print(err)
		return exitUsage
	}
	if *maxFrame < 64 || *maxFrame > 1<<30 {
		logger.Printf("--max-frame %d: want 64 .. 1073741824", *maxFrame)
		return exitUsage
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			logger.Printf("--cpuprofile: %v", err)
			return exitUsage
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			logger.Printf("--cpuprofile: %v", err)
			return exitUsage
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	dataDir := *dataDirFlag
	if dataDir == "" {
		dataDir = filepath.Join(*path, "data")
	}
	if *listFamilies {
		return listColumnFamilies(stdout, dataDir)
	}
	if len(checkpointRoots) == 0 {
		if env, ok := lookup("SPIRE_CHECKPOINT_ROOTS"); ok && env != "" {
			checkpointRoots = filepath.SplitList(env)
		} else {
			checkpointRoots = []string{filepath.Join(*path, "checkpoints")}
		}
	}
	srvOpts := port.Options{
		Codec: codec, MaxFrame: *maxFrame, Workers: *workers, MaxIterators: *maxIters, MaxSnapshots: *maxSnaps,
		IdleTimeout: idleTimeout(*idle), CheckpointRoots: checkpointRoots, Log: logger,
	}
	if *logFrames {
		// The port's owner gets open failures in the id-0 error frame; a
		// copy on stderr would repeat at every retry of a LOCK wait.
		logger.SetOutput(io.Discard)
	}
	if *replySocket != "" {
		// Connected before anything can fail, so the owner never waits for
		// a connection that is not coming without also seeing the exit.
		conn, err := net.Dial("unix", *replySocket)
		if err != nil {
			logger.Printf("--reply-socket: %v", err)
			return exitUsage
		}
		defer conn.Close()
		if uc, ok := conn.(*net.UnixConn); ok {
			_ = uc.SetWriteBuffer(1 << 20) // as the pipe's: best effort
		}
		srvOpts.ReplySocket = conn
	}
	cfg, err := engine.LoadConfig(lookup, overrides)
	if err != nil {
		return failOpen(stdout, srvOpts, logger, "bad_config", err)
	}
	cfg.ColumnFamilies = families
	cfg.ReadOnly = *readOnly
	if err := cfg.Validate(); err != nil {
		return failOpen(stdout, srvOpts, logger, "bad_config", err)
	}
	if err := engine.KeepFreedMemory(); err != nil { // the reaper trims at rest instead
		logger.Printf("malloc keeps its defaults: %v", err)
	}
	eng, err := engine.Open(dataDir, cfg)
	if err != nil {
		return failOpen(stdout, srvOpts, logger, "open_failed", err)
	}
	srv := port.NewServer(eng, stdout, srvOpts)
	if *logFrames {
		logger.SetOutput(logs)
		logger.SetFlags(0)
		logs.SetServer(srv)
	}
	logger.Printf("serving %s (codec %s, profile %q, pid %d)", dataDir, codec.Name(), cfg.Profile, os.Getpid())
	srv.SendEvent(wire.ReadyEvent(version, dataDir))

	for _, f := range []any{stdin, stdout} {
		if file, ok := f.(*os.File); ok {
			_, _ = pipe.GrowPipe(file, 1<<20) // best effort: not a pipe, or over the system's limit
		}
	}
	if f, ok := stdin.(*os.File); ok && *spin > 0 {
		if sr, err := pipe.NewSpinReader(f, *spin); err == nil {
			if flagSet(fs, "busy-spin") {
				sr.BusySpin = *busySpin
			}
			stdin = sr
		} else {
			logger.Printf("stdin cannot be made non-blocking (%v); reading it plainly", err)
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(stdin) }()
	select {
	case err := <-served:
		if errors.Is(err, port.ErrCloseRequested) {
			logger.Printf("closed on request")
		} else {
			logger.Printf("stdin closed; database closed")
		}
	case sig := <-sigs:
		logger.Printf("%v: finishing requests in flight and closing", sig)
		srv.Stop()
	}
	return exitOK
}

// describeSettings is engine.Settings as one ETF term, a list of
// {Option, Env, Kind, Min, Max, [Choice]} (binaries and integers):
// Store.KV.Engine validates its options against it instead of a copy.
func describeSettings() []byte {
	b := etf.AppendListHeader(etf.AppendVersion(nil), len(engine.Settings))
	for _, st := range engine.Settings {
		option := strings.ToLower(strings.TrimPrefix(st.Env, "SPIRE_ROCKSDB_"))
		b = etf.AppendTupleHeader(b, 6)
		b = etf.AppendString(etf.AppendString(etf.AppendString(b, option), st.Env), st.Kind)
		b = etf.AppendInt(etf.AppendInt(b, st.Min), st.Max)
		if len(st.Choices) > 0 {
			b = etf.AppendListHeader(b, len(st.Choices))
			for _, c := range st.Choices {
				b = etf.AppendString(b, c)
			}
		}
		b = etf.AppendNil(b)
	}
	return etf.AppendNil(b)
}

// listColumnFamilies writes the column families of the database in dir as
// one ETF term, {ok, [Name]} or {error, Message}: what erlang-rocksdb's
// list_column_families/2 answers, for a database no process has open.
func listColumnFamilies(stdout io.Writer, dir string) int {
	names, err := engine.ListColumnFamilies(dir)
	b := etf.AppendVersion(nil)
	if err != nil {
		b = etf.AppendString(etf.AppendAtom(etf.AppendTupleHeader(b, 2), "error"), err.Error())
		_, _ = stdout.Write(b)
		return exitOpen
	}
	b = etf.AppendAtom(etf.AppendTupleHeader(b, 2), "ok")
	if len(names) > 0 {
		b = etf.AppendListHeader(b, len(names))
		for _, n := range names {
			b = etf.AppendString(b, n)
		}
	}
	_, _ = stdout.Write(etf.AppendNil(b))
	return exitOK
}

// failOpen tells the port's owner why the database did not open, both as a
// frame with id 0 ({error, {Kind, Message}}) and as a line on stderr.
func failOpen(stdout io.Writer, opts port.Options, logger *log.Logger, kind string, err error) int {
	logger.Printf("cannot open the database: %v", err)
	wire.WriteEvent(stdout, opts.Codec, wire.ErrorEvent(kind, err.Error()))
	return exitOpen
}

// flagSet reports whether the command line set the flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// idleTimeout maps the flag onto port.Options: on the command line 0
// means never, where the library's zero value takes the default.
func idleTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
