package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"time"
)

// layer is the image's one filesystem layer, gzip-compressed.
type layer struct {
	gzipped []byte
	diffID  string // sha256 of the uncompressed tar, as the config's rootfs lists it
}

func buildLayer(entries []entry, mtime time.Time) (layer, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return layer{}, err
	}
	// A zero gzip header: no file name, no time, so no build-dependent bytes.
	uncompressed := sha256.New()
	if err := writeTar(io.MultiWriter(zw, uncompressed), layerHeaders(entries, mtime)); err != nil {
		return layer{}, err
	}
	if err := zw.Close(); err != nil {
		return layer{}, err
	}
	return layer{gzipped: gz.Bytes(), diffID: "sha256:" + hexSum(uncompressed)}, nil
}

// tarFile is one tar entry with its contents.
type tarFile struct {
	hdr  *tar.Header
	data []byte
}

func layerHeaders(entries []entry, mtime time.Time) []tarFile {
	files := make([]tarFile, 0, len(entries))
	for _, e := range entries {
		files = append(files, tarFile{hdr: layerHeader(e, mtime), data: e.data})
	}
	return files
}

// layerHeader fixes everything a tar header can carry from the build
// machine: owner names, access and change times, device numbers.
func layerHeader(e entry, mtime time.Time) *tar.Header {
	hdr := &tar.Header{
		Name: e.path, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: mtime,
		Typeflag: tar.TypeReg, Size: int64(len(e.data)), Format: tar.FormatPAX,
	}
	if e.dir {
		hdr.Name += "/"
		hdr.Typeflag = tar.TypeDir
		hdr.Size = 0
	}
	// SCHILY.xattr.* is how GNU tar, containerd and Docker carry extended
	// attributes, security.capability included.
	for name, value := range e.xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+name] = value
	}
	return hdr
}

// writeTar writes the files in the given order and closes the archive.
func writeTar(w io.Writer, files []tarFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		if err := tw.WriteHeader(f.hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}
