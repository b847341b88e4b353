// Command cluster starts, stops or loads images into the single-node
// cluster of package hack/cluster:
//
//	cluster up              # make cluster; KUBECONFIG=bin/cluster/kubeconfig
//	cluster down            # make cluster-down
//	cluster import FILE...  # OCI or docker image tarballs into the node
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/baton-dev/baton/hack/cluster"
)

func main() {
	root := flag.String("root", ".", "the Baton checkout (binaries in root/bin)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: cluster [-root DIR] up | down | import FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	abs, err := filepath.Abs(*root)
	if err != nil {
		log.Fatal(err)
	}
	c := &cluster.Cluster{Root: abs, Logf: log.Printf}
	ctx := context.Background()
	start := time.Now()
	switch flag.Arg(0) {
	case "up":
		if err = c.Start(ctx); err == nil {
			log.Printf("node %s Ready after %s; export KUBECONFIG=%s", cluster.NodeName,
				time.Since(start).Round(time.Millisecond), c.Kubeconfig())
		}
	case "down":
		err = c.Stop(ctx)
	case "import":
		for _, f := range flag.Args()[1:] {
			if err = c.ImportImage(f); err != nil {
				break
			}
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		log.Fatal(err)
	}
}
