package proxy

import (
	"bufio"
	"net/http"
)

// readResponseHead reads one response head from br for req; its Body reads
// the framed body from br.
// TODO(h1): the strict parser of pkg/dataplane/h1 replaces http.ReadResponse.
func readResponseHead(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	return http.ReadResponse(br, req)
}
