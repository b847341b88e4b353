// Command idleclients opens many keep-alive HTTP/1.1 connections, sends one
// request on each, reads its response and then leaves the connection idle,
// so that make bench can measure what an idle client costs a proxy in
// memory. It prints "ready" once every response has arrived and holds the
// connections until its standard input closes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "proxy address")
	n := flag.Int("n", 5000, "connections")
	parallel := flag.Int("parallel", 64, "connections opened at once")
	flag.Parse()
	conns := make([]net.Conn, *n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, *parallel)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i] = oneRequest(*addr)
		}()
	}
	wg.Wait()
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// oneRequest connects and completes one exchange, leaving the connection open.
func oneRequest(addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		log.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK || resp.Close {
		log.Fatalf("status %d, close %v, body %v", resp.StatusCode, resp.Close, err)
	}
	return c
}
