package client_test

import (
	"context"
	"fmt"
	"os"

	"github.com/spiredb/spire-port/port/client"
	"github.com/spiredb/spire-port/port/wire/wiretest"
)

// A sidecar on a fresh directory: a put, a get, a scan.
func ExampleStart() {
	binary, err := wiretest.Build() // in a suite: the path of bin/spire-port
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	ctx := context.Background()
	c, err := client.Start(client.StartOptions{Binary: binary, Path: dir})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	_ = c.Put(ctx, []byte("user:1"), []byte("alice"))
	_ = c.Put(ctx, []byte("user:2"), []byte("bob"))
	v, _ := c.Get(ctx, []byte("user:1"))
	fmt.Println(string(v))
	batches, _ := c.Scan(ctx, []byte("user:"), []byte("user:~"))
	for _, row := range batches[0].Rows {
		fmt.Printf("%s=%s\n", row.Key, row.Value)
	}
	_, err = c.Get(ctx, []byte("user:3"))
	fmt.Println(err == client.ErrNotFound)
	// Output:
	// alice
	// user:1=alice
	// user:2=bob
	// true
}

// startExample starts a sidecar on a fresh directory for an example.
func startExample() (c *client.Client, dir string, stop func()) {
	binary, err := wiretest.Build() // in a suite: the path of bin/spire-port
	if err != nil {
		panic(err)
	}
	dir, _ = os.MkdirTemp("", "example")
	c, err = client.Start(client.StartOptions{Binary: binary, Path: dir})
	if err != nil {
		panic(err)
	}
	return c, dir, func() { c.Close(); os.RemoveAll(dir) }
}

// A cursor walks a range a batch at a time, as far as the caller wants.
func ExampleClient_IterOpen() {
	ctx := context.Background()
	c, _, stop := startExample()
	defer stop()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		_ = c.Put(ctx, []byte(k), []byte("v"+k))
	}

	cursor, _ := c.IterOpen(ctx, []byte("b"), []byte(""), client.Opts{BatchSize: 2})
	for {
		batch, err := c.IterNext(ctx, cursor)
		if err != nil {
			panic(err)
		}
		for _, row := range batch.Rows {
			fmt.Printf("%s ", row.Key)
		}
		if batch.Done {
			break
		}
	}
	fmt.Println()
	// Output:
	// b c d e
}

// A backup, and the restore that opens as a database of its own.
func ExampleClient_Backup() {
	ctx := context.Background()
	c, dir, stop := startExample()
	defer stop()
	_ = c.Put(ctx, []byte("k"), []byte("kept"))

	// Relative paths land under the checkpoint root, <path>/checkpoints.
	info, err := c.Backup(ctx, "backups", client.BackupOpts{Flush: true})
	if err != nil {
		panic(err)
	}
	fmt.Println("backup", info.ID)
	if err := c.RestoreBackup(ctx, "backups", info.ID, "restored"); err != nil {
		panic(err)
	}

	binary, _ := wiretest.Build()
	r, err := client.Start(client.StartOptions{Binary: binary, Path: dir + "/checkpoints/restored"})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	v, _ := r.Get(ctx, []byte("k"))
	fmt.Println(string(v))
	// Output:
	// backup 1
	// kept
}
