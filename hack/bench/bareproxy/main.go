// Command bareproxy is the floor the bench measures Baton's HTTP/1.1 engine
// against: the least a Go keep-alive proxy does. One goroutine per client
// connection with a bufio reader and writer, one upstream connection of its
// own, and head and body copied as they are (Content-Length or chunked).
// No routing, no header edits, no timeouts, no pooling: whatever Baton costs
// beyond this is Baton's, whatever this costs beyond nginx is Go's.
// Adequate for the bench's nginx backend, not for anything else.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "address to serve on")
	backend := flag.String("backend", "127.0.0.1:18000", "backend address (ip:port)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here until the process gets SIGTERM or SIGINT")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if *cpuProfile != "" {
		stopOnSignal(startProfile(*cpuProfile))
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c, *backend)
	}
}

func startProfile(path string) func() {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func stopOnSignal(stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; stop(); os.Exit(0) }()
}

// serve forwards the client's requests one at a time, over an upstream
// connection of its own, until either side closes.
func serve(client net.Conn, backend string) {
	defer client.Close()
	up, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer up.Close()
	cr, cw := bufio.NewReaderSize(client, 4<<10), bufio.NewWriterSize(client, 4<<10)
	ur, uw := bufio.NewReaderSize(up, 16<<10), bufio.NewWriterSize(up, 4<<10)
	for {
		if err := forward(cr, uw, true); err != nil {
			return
		}
		if err := uw.Flush(); err != nil {
			return
		}
		if err := forward(ur, cw, false); err != nil {
			return
		}
		if cr.Buffered() == 0 { // a pipelined request's answer goes with the next
			if err := cw.Flush(); err != nil {
				return
			}
		}
	}
}

var (
	contentLength    = []byte("content-length:")
	transferEncoding = []byte("transfer-encoding:")
	chunkedToken     = []byte("chunked")
	headNoBody       = []byte("HEAD ")
)

// forward copies one message, head and body, from r to w.
func forward(r *bufio.Reader, w *bufio.Writer, request bool) error {
	length, chunked, noBody := int64(0), false, false
	for first := true; ; first = false {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first && request && bytes.HasPrefix(line, headNoBody) {
			noBody = true
		}
		if first && !request && bodiless(line) {
			noBody = true
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		switch {
		case hasFieldPrefix(line, contentLength):
			v := bytes.TrimSpace(line[len(contentLength):])
			if length, err = strconv.ParseInt(string(v), 10, 64); err != nil {
				return err
			}
		case hasFieldPrefix(line, transferEncoding):
			chunked = bytes.Contains(bytes.ToLower(line), chunkedToken)
		}
	}
	switch {
	case noBody && !request:
		return nil
	case chunked:
		return copyChunked(r, w)
	default:
		_, err := io.CopyN(w, r, length)
		return err
	}
}

func hasFieldPrefix(line, name []byte) bool {
	return len(line) >= len(name) && bytes.EqualFold(line[:len(name)], name)
}

// bodiless: a 1xx, 204 or 304 status line (HEAD responses are not asked).
func bodiless(status []byte) bool {
	if len(status) < 12 {
		return false
	}
	code := string(status[9:12])
	return code[0] == '1' || code == "204" || code == "304"
}

// copyChunked copies a chunked body through its last chunk and trailers.
func copyChunked(r *bufio.Reader, w *bufio.Writer) error {
	for {
		line, err := copyLine(r, w)
		if err != nil {
			return err
		}
		size := bytes.TrimSpace(line)
		if i := bytes.IndexByte(size, ';'); i >= 0 {
			size = size[:i]
		}
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil {
			return err
		}
		if n == 0 {
			return copyTrailers(r, w)
		}
		if _, err := io.CopyN(w, r, n+2); err != nil { // the data and its CRLF
			return err
		}
	}
}

func copyTrailers(r *bufio.Reader, w *bufio.Writer) error {
	for {
		line, err := copyLine(r, w)
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			return nil
		}
	}
}

// copyLine copies one line, its LF included, and returns it (valid until
// the next read from r).
func copyLine(r *bufio.Reader, w *bufio.Writer) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	_, err = w.Write(line)
	return line, err
}
