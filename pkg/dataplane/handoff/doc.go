// Package handoff passes listening sockets from a running process to its
// successor over a Unix socket, so that an upgrade never refuses a
// connection: both processes hold the same kernel socket, and connections
// waiting in its backlog are accepted by whichever process accepts next.
//
// It follows Pingora's graceful upgrade and cloudflare/tableflip, but between
// two independent processes that only share a path: the same pod replacing
// its binary, or two hostNetwork pods on one node sharing a hostPath
// directory.
//
// # Sequence
//
//  1. The running process calls [Offer]: it binds a SOCK_SEQPACKET socket at a
//     temporary name next to path, chmods it 0600 and renames it over path.
//  2. The successor, once ready to route, calls [Take]: it connects and
//     receives every listener with its name ("http", "https") by SCM_RIGHTS.
//  3. The successor starts accepting on them and calls [Taken.Confirm].
//  4. The offerer acknowledges and runs its onTaken callback; the caller stops
//     accepting, drains and exits.
//  5. The successor calls [Offer] on the same path for the next upgrade; the
//     rename replaces the predecessor's socket file atomically.
//
// # Failure semantics
//
//   - Nobody at path (no file, a stale file left by a dead process — which
//     Take removes — or a predecessor that does not answer in time):
//     [ErrNoPredecessor]. Open fresh listeners.
//   - Another successor is taking or has taken the listeners:
//     [ErrHandoffInProgress], returned at once, not after the other finishes.
//   - The predecessor dies before sending the listeners: [ErrPredecessorGone]
//     from Take. Nothing was received; open fresh listeners (they can bind,
//     since the dead process no longer holds the ports).
//   - The predecessor dies (or times the successor out) after sending the
//     listeners but before acknowledging Confirm: [ErrPredecessorGone] from
//     Confirm. The received listeners are still valid listening sockets, and
//     the caller is already accepting on them: keep serving and Offer them.
//     If the predecessor is in fact still alive, both processes accept from
//     one backlog, which loses nothing; it keeps serving until stopped.
//   - A successor that never confirms within the confirm timeout is dropped;
//     the offerer keeps serving and accepts a later successor.
//   - Malformed messages (wrong version, length, type, listener count) are
//     rejected with [ErrProtocol]; any descriptors that came with them are
//     closed.
//
// # Wire format
//
// Every message is one SOCK_SEQPACKET record: a version byte, a type byte,
// a big-endian uint32 payload length, and the payload. The listeners
// message's payload is a count byte followed by length-prefixed names, in
// the order of the SCM_RIGHTS descriptors sent with it.
//
// Only a peer running as the same user (or root) is served; the socket file
// is 0600 and its directory is created 0700 when missing. Path mutations
// (publishing, stale removal, cleanup) are serialised by flock(2) on
// path+".lock", so a stale-file removal can never delete a live socket that
// was renamed into place meanwhile.
package handoff
