package handoff

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSocketPath is sun_path's size minus the terminating NUL.
const maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// fileID names one inode, so cleanup never removes a file someone else
// renamed into place.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, fs.FileMode, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return fileID{}, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, 0, fmt.Errorf("handoff: no inode for %s", path)
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, fi.Mode(), nil
}

func checkPathLen(path string) error {
	if path == "" {
		return errors.New("handoff: empty socket path")
	}
	if len(path) > maxSocketPath {
		return fmt.Errorf("handoff: socket path %q is %d bytes, the limit is %d", path, len(path), maxSocketPath)
	}
	return nil
}

// withPathLock runs fn holding flock(path+".lock"). Every change to path
// happens under it.
func withPathLock(path string, fn func() error) error {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("handoff: lock file: %w", err)
	}
	defer f.Close()
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("handoff: lock %s: %w", f.Name(), err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return fn()
}

// publish binds a socket at a temporary name beside path, restricts it to
// 0600 and renames it over path: a successor dialing path meets either the
// old socket or the new one, never no socket.
func publish(path string) (*net.UnixListener, fileID, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fileID{}, fmt.Errorf("handoff: create socket directory: %w", err)
	}
	var ln *net.UnixListener
	var id fileID
	err := withPathLock(path, func() error {
		if _, mode, err := statID(path); err == nil && mode.Type() != fs.ModeSocket {
			return fmt.Errorf("handoff: %s exists and is not a socket (%s); refusing to replace it", path, mode.Type())
		}
		var err error
		ln, id, err = bindAndRename(path)
		return err
	})
	return ln, id, err
}

func bindAndRename(path string) (*net.UnixListener, fileID, error) {
	tmp, err := tempSibling(path)
	if err != nil {
		return nil, fileID{}, err
	}
	ln, err := net.ListenUnix(network, &net.UnixAddr{Name: tmp, Net: network})
	if err != nil {
		return nil, fileID{}, fmt.Errorf("handoff: listen on %s: %w", tmp, err)
	}
	ln.SetUnlinkOnClose(false) // path may belong to a successor by then
	fail := func(err error) (*net.UnixListener, fileID, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, fileID{}, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(fmt.Errorf("handoff: chmod %s: %w", tmp, err))
	}
	id, _, err := statID(tmp)
	if err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("handoff: rename %s to %s: %w", tmp, path, err))
	}
	return ln, id, nil
}

func tempSibling(path string) (string, error) {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	tmp := filepath.Join(filepath.Dir(path), ".handoff-"+hex.EncodeToString(r[:]))
	if err := checkPathLen(tmp); err != nil {
		return "", fmt.Errorf("%w (temporary name beside the socket)", err)
	}
	return tmp, nil
}

// removeIfSame removes path only while it is still the inode we created.
func removeIfSame(path string, id fileID) error {
	return withPathLock(path, func() error {
		cur, _, err := statID(path)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && cur != id) {
			return nil
		}
		if err != nil {
			return err
		}
		return os.Remove(path)
	})
}

// removeStale deletes the socket file that refused a connection, unless
// the path meanwhile names another inode: every publish happens under the
// lock, so an unchanged inode is still the dead one. It reports whether the
// path had changed (the caller dials again).
func removeStale(path string, refused fileID) (changed bool, err error) {
	err = withPathLock(path, func() error {
		cur, _, err := statID(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return err
		case cur != refused:
			changed = true
			return nil
		}
		return os.Remove(path)
	})
	return changed, err
}
