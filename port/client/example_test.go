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
	ctx := context.Background()
	binary, err := wiretest.Build() // in a suite: the path of bin/spire-port
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

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
