package framework

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// RawRequest is one HTTP/1.1 request written byte for byte on a fresh
// connection: what a test of routing needs beyond RawGet (a method,
// headers, a query), still without any client logic that could retry,
// follow a redirect or rewrite a header.
type RawRequest struct {
	Method, Host, Target string
	// Header lines, "Name: value", sent as given.
	Header []string
}

// RawResponse is the status, header and body as the client received them.
type RawResponse struct {
	Status int
	Header http.Header
	Body   string
	// PeerCN is the served certificate's CommonName (DoTLS).
	PeerCN string
}

// Do sends r to addr with Connection: close and reads the whole answer.
func (r RawRequest) Do(addr string, timeout time.Duration) (*RawResponse, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return r.exchange(conn, timeout)
}

// DoTLS is Do over TLS with SNI serverName, without verifying the
// certificate (tests are after which one is served: PeerCN).
func (r RawRequest) DoTLS(addr, serverName string, timeout time.Duration) (*RawResponse, error) {
	d := &net.Dialer{Timeout: timeout}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true,
		NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	resp, err := r.exchange(conn, timeout)
	if resp != nil {
		resp.PeerCN = conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	return resp, err
}

func (r RawRequest) exchange(conn net.Conn, timeout time.Duration) (*RawResponse, error) {
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, r.Target, r.Host)
	for _, h := range r.Header {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return &RawResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}, err
}
