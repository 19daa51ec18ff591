package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spiredb/spire-port/engine"
	"github.com/spiredb/spire-port/port"
	"github.com/spiredb/spire-port/port/wire"
)

// toolUsage lists the one-shot commands that work on backup directories
// and on databases no process serves (Store.KV.Engine's list_backups/1 and
// its siblings, and :rocksdb's destroy/2 and repair/2, run them).
const toolUsage = `spire-port backup-list DIR
spire-port backup-verify DIR ID
spire-port backup-delete DIR ID
spire-port backup-purge DIR KEEP
spire-port backup-restore DIR ID|latest PATH [flat]
spire-port destroy DIR
spire-port repair DIR`

// isTool reports whether args name a one-shot command.
func isTool(args []string) bool {
	if len(args) == 0 {
		return false
	}
	switch args[0] {
	case "backup-list", "backup-verify", "backup-delete", "backup-purge", "backup-restore", "destroy", "repair":
		return true
	}
	return false
}

// runTool runs one command and writes its result to stdout as one ETF
// term: ok, {ok, Term} or {error, {Kind, Message}}, the replies the wire
// protocol gives for the same ops. Exit status 0 on ok, 1 on an error, 2
// for a usage error.
func runTool(args []string, stdout, stderr io.Writer) int {
	cmd, rest := args[0], args[1:]
	want := map[string]int{"backup-list": 1, "backup-verify": 2, "backup-delete": 2, "backup-purge": 2, "backup-restore": 3,
		"destroy": 1, "repair": 1}[cmd]
	if len(rest) != want && !(cmd == "backup-restore" && len(rest) == 4 && rest[3] == "flat") {
		fmt.Fprintf(stderr, "usage:\n%s\n", toolUsage)
		return exitUsage
	}
	dir := rest[0]
	for _, p := range pathArgs(cmd, rest) {
		if err := wire.CheckPath(cmd, p); err != nil {
			fmt.Fprintf(stderr, "%v\n%s\n", err, toolUsage)
			return exitUsage
		}
	}
	var id uint64
	if want >= 2 {
		var err error
		least, what := uint64(1), "a backup id (1 .. 4294967295)"
		if cmd == "backup-purge" {
			least, what = 0, "a count of backups to keep (0 .. 4294967295)"
		}
		if cmd == "backup-restore" && rest[1] == "latest" {
			id = 0 // "latest" is spelled only so: a 0 is refused below
		} else if id, err = strconv.ParseUint(rest[1], 10, 32); err != nil || id < least {
			fmt.Fprintf(stderr, "%s: %q is not %s\n%s\n", cmd, rest[1], what, toolUsage)
			return exitUsage
		}
	}
	var infos []engine.BackupInfo
	var err error
	switch cmd {
	case "backup-list":
		infos, err = engine.ListBackups(dir)
	case "backup-verify":
		err = engine.VerifyBackup(dir, uint32(id))
	case "backup-delete":
		err = engine.DeleteBackup(dir, uint32(id))
	case "backup-purge":
		err = engine.PurgeOldBackups(dir, uint32(id))
	case "backup-restore":
		err = port.RestoreInto(dir, uint32(id), rest[2], len(rest) == 4, 0, "")
	case "destroy":
		err = engine.Destroy(dir)
	case "repair":
		err = engine.Repair(dir)
	}
	c := wire.ETF
	b := c.Begin(nil)
	switch {
	case err != nil:
		_, _ = stdout.Write(port.AppendErrorTerm(c, b, err))
		return exitOpen
	case cmd == "backup-list":
		b = port.AppendBackupInfos(c, c.Atom(c.Tuple(b, 2), "ok"), infos)
	default:
		b = c.Atom(b, "ok")
	}
	_, _ = stdout.Write(b)
	return exitOK
}

// pathArgs are the arguments of cmd that name files.
func pathArgs(cmd string, rest []string) []string {
	if cmd == "backup-restore" {
		return []string{rest[0], rest[2]}
	}
	return rest[:1]
}
