package main

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// archiveFile is one file to pack: its name in the archive, where it is
// now, and the mode it gets (the file's own mode and times are ignored).
type archiveFile struct {
	Name string
	Path string
	Mode int64
}

func sortedFiles(files []archiveFile) []archiveFile {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b archiveFile) int { return strings.Compare(a.Name, b.Name) })
	return files
}

// writeTarGz packs files into a gzipped tar that depends only on their
// names, contents, modes and mtime: entries sorted by name, owner and group
// 0 without names, ustar headers, and a gzip header without a name or time.
func writeTarGz(w io.Writer, files []archiveFile, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, f := range sortedFiles(files) {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.Name,
			Mode:     f.Mode,
			Size:     int64(len(b)),
			ModTime:  mtime,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// writeZip is writeTarGz for Windows users, who have zip built in.
func writeZip(w io.Writer, files []archiveFile, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	for _, f := range sortedFiles(files) {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(os.FileMode(f.Mode))
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := fw.Write(b); err != nil {
			return err
		}
	}
	return zw.Close()
}
