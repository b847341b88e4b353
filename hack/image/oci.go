package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"path"
	"slices"
	"strings"
	"time"
)

// Media types and annotations of the OCI image spec (v1.1) and containerd.
const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	// containerd names an imported image after this index annotation.
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type imageConfig struct {
	Created      string        `json:"created"`
	Architecture string        `json:"architecture"`
	OS           string        `json:"os"`
	Config       runtimeConfig `json:"config"`
	RootFS       rootFS        `json:"rootfs"`
	History      []history     `json:"history"`
}

type runtimeConfig struct {
	User       string            `json:"User"`
	Entrypoint []string          `json:"Entrypoint"`
	Env        []string          `json:"Env"`
	WorkingDir string            `json:"WorkingDir"`
	Labels     map[string]string `json:"Labels"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type history struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// dockerManifest is one entry of a docker-archive's manifest.json; its
// paths point into the OCI layout's blobs, as `docker save` (25+) does.
type dockerManifest struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// image is what goes into the tarball besides the layer.
type image struct {
	ref     string // repository:tag
	version string
	arch    string
	created time.Time
}

func (img image) config(l layer) imageConfig {
	created := img.created.UTC().Format(time.RFC3339)
	return imageConfig{
		Created: created, Architecture: img.arch, OS: "linux",
		Config: runtimeConfig{
			User:       "65532:65532",
			Entrypoint: []string{"/" + binaryPath},
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			WorkingDir: "/",
			Labels: map[string]string{
				"org.opencontainers.image.source":  "https://github.com/baton-dev/baton",
				"org.opencontainers.image.version": img.version,
			},
		},
		RootFS:  rootFS{Type: "layers", DiffIDs: []string{l.diffID}},
		History: []history{{Created: created, CreatedBy: "hack/image: /baton (cap_net_bind_service=ep), CA certificates, passwd, group"}},
	}
}

// archiveFiles is the whole tarball: OCI layout plus manifest.json. It
// also returns the manifest's digest, the image's identity.
func (img image) archiveFiles(l layer) ([]tarFile, string, error) {
	blobs := &blobSet{}
	configJSON, err := json.Marshal(img.config(l))
	if err != nil {
		return nil, "", err
	}
	m := manifest{
		SchemaVersion: 2, MediaType: mediaTypeManifest,
		Config: blobs.add(mediaTypeConfig, configJSON),
		Layers: []descriptor{blobs.add(mediaTypeLayer, l.gzipped)},
	}
	manifestJSON, err := json.Marshal(m)
	if err != nil {
		return nil, "", err
	}
	md := blobs.add(mediaTypeManifest, manifestJSON)
	indexJSON, dockerJSON, err := img.indexes(m, md)
	if err != nil {
		return nil, "", err
	}
	files := append(blobs.files,
		regular("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)),
		regular("index.json", indexJSON),
		regular("manifest.json", dockerJSON),
		directory("blobs/"), directory("blobs/sha256/"))
	slices.SortFunc(files, func(a, b tarFile) int { return strings.Compare(a.hdr.Name, b.hdr.Name) })
	for _, f := range files {
		f.hdr.ModTime = img.created
	}
	return files, md.Digest, nil
}

// indexes are the two ways into the blobs: the OCI index.json, whose
// annotation names the image for containerd, and Docker's manifest.json.
func (img image) indexes(m manifest, md descriptor) (indexJSON, dockerJSON []byte, err error) {
	md.Annotations = map[string]string{annotationImageName: img.ref, annotationRefName: img.tag()}
	md.Platform = &platform{Architecture: img.arch, OS: "linux"}
	indexJSON, err = json.Marshal(index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []descriptor{md}})
	if err != nil {
		return nil, nil, err
	}
	dockerJSON, err = json.Marshal([]dockerManifest{{
		Config: blobPath(m.Config.Digest), RepoTags: []string{img.ref},
		Layers: []string{blobPath(m.Layers[0].Digest)},
	}})
	return indexJSON, dockerJSON, err
}

func (img image) tag() string { return img.ref[strings.LastIndex(img.ref, ":")+1:] }

// blobSet collects content-addressed blobs as tar files.
type blobSet struct{ files []tarFile }

func (b *blobSet) add(mediaType string, data []byte) descriptor {
	d := "sha256:" + hexSum(sumOf(data))
	b.files = append(b.files, regular(blobPath(d), data))
	return descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func blobPath(digest string) string {
	return path.Join("blobs", strings.Replace(digest, ":", "/", 1))
}

func regular(name string, data []byte) tarFile {
	return tarFile{hdr: &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)),
		Typeflag: tar.TypeReg, Format: tar.FormatPAX}, data: data}
}

func directory(name string) tarFile {
	return tarFile{hdr: &tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir, Format: tar.FormatPAX}}
}

func sumOf(data []byte) hash.Hash {
	h := sha256.New()
	h.Write(data)
	return h
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// writeArchive writes the image tarball to w and returns its manifest digest.
func writeArchive(w io.Writer, img image, l layer) (string, error) {
	files, digest, err := img.archiveFiles(l)
	if err != nil {
		return "", err
	}
	return digest, writeTar(w, files)
}
