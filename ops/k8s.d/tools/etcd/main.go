// Command etcd is the etcd server, built from its published module so ops/k8s needs no
// download from outside the Go module proxy (etcd ships no `cmd` package one could build).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
