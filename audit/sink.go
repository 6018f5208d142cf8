package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// FileOptions configure a file sink.
type FileOptions struct {
	// MaxSize is the size in bytes past which the file is rotated
	// (0: never).
	MaxSize int64
	// Keep is how many rotated files are kept (0: all).
	Keep int
}

// File is a Sink that appends to a file and rotates it by size: the full
// file is renamed FILE.<first sequence number, 20 digits> and a new FILE
// started, whose first record continues the chain. Rotation happens
// between two records, so none is lost; with Keep the oldest rotated files
// are removed.
type File struct {
	path  string
	opts  FileOptions
	f     *os.File
	w     *bufio.Writer
	size  int64
	first uint64 // sequence number of the current file's first record
}

var _ Sink = (*File)(nil)

// OpenFile opens (creating it if needed) the log file at path for appending.
func OpenFile(path string, opts FileOptions) (*File, error) {
	s := &File{path: path, opts: opts}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *File) open() error {
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("opening decision log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening decision log: %w", err)
	}
	s.f, s.w, s.size, s.first = f, bufio.NewWriterSize(f, 64<<10), st.Size(), 0
	if s.size > 0 {
		if first, err := firstLine(s.path); err == nil {
			s.first = seqOf(first)
		}
	}
	return nil
}

// Last returns the last line of the file or, when it is empty, of the
// newest rotated file.
func (s *File) Last() ([]byte, error) {
	last, err := lastLine(s.path)
	if err != nil || last != nil {
		return last, err
	}
	rotated, err := s.rotated()
	if err != nil || len(rotated) == 0 {
		return nil, err
	}
	return lastLine(rotated[len(rotated)-1])
}

// Write appends line, rotating first when it would pass MaxSize.
func (s *File) Write(line []byte) error {
	if s.opts.MaxSize > 0 && s.size > 0 && s.size+int64(len(line)) > s.opts.MaxSize {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	if s.size == 0 {
		s.first = seqOf(line)
	}
	n, err := s.w.Write(line)
	s.size += int64(n)
	return err
}

// Flush writes the buffered lines to the file.
func (s *File) Flush() error { return s.w.Flush() }

// Close flushes, syncs and closes the file.
func (s *File) Close() error {
	err := s.w.Flush()
	if serr := s.f.Sync(); err == nil {
		err = serr
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// rotate closes the file, renames it after its first record and opens a
// new one, then removes the rotated files past Keep.
func (s *File) rotate() error {
	if err := s.Close(); err != nil {
		return fmt.Errorf("rotating decision log: %w", err)
	}
	if err := os.Rename(s.path, fmt.Sprintf("%s.%020d", s.path, s.first)); err != nil {
		return fmt.Errorf("rotating decision log: %w", err)
	}
	if err := s.open(); err != nil {
		return err
	}
	if s.opts.Keep <= 0 {
		return nil
	}
	rotated, err := s.rotated()
	if err != nil {
		return err
	}
	for len(rotated) > s.opts.Keep {
		if err := os.Remove(rotated[0]); err != nil {
			return fmt.Errorf("removing old decision log: %w", err)
		}
		rotated = rotated[1:]
	}
	return nil
}

// rotated returns the rotated files, oldest first.
func (s *File) rotated() ([]string, error) {
	return RotatedFiles(s.path)
}

// RotatedFiles returns the files a File sink at path rotated, oldest first.
func RotatedFiles(path string) ([]string, error) {
	matches, err := filepath.Glob(path + ".*")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		suffix := m[len(path)+1:]
		if _, err := strconv.ParseUint(suffix, 10, 64); err == nil && len(suffix) == 20 {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out, nil
}

// seqOf reads the sequence number at the start of a canonical line
// ({"seq":N,...); 0 if there is none.
func seqOf(line []byte) uint64 {
	rest, ok := bytes.CutPrefix(line, []byte(`{"seq":`))
	if !ok {
		return 0
	}
	i := bytes.IndexByte(rest, ',')
	if i < 0 {
		return 0
	}
	n, _ := strconv.ParseUint(string(rest[:i]), 10, 64)
	return n
}

func firstLine(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := bufio.NewReader(f).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

// lastLine returns the last line of the file at path without its newline
// (nil for an empty or missing file). An incomplete last line is returned
// as it is, so that it does not parse.
func lastLine(path string) ([]byte, error) {
	bl, err := openBackLines(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer bl.f.Close()
	line, err := bl.prev()
	if err == io.EOF {
		return nil, nil
	}
	return line, err
}

// Writer is a Sink on an io.Writer, such as standard output. It holds no
// past lines: each Recorder on it starts a new chain.
type Writer struct {
	w *bufio.Writer
	c io.Closer
}

var _ Sink = (*Writer)(nil)

// NewWriter returns a sink writing to w (closed by Close if it is an
// io.Closer other than standard output).
func NewWriter(w io.Writer) *Writer {
	s := &Writer{w: bufio.NewWriterSize(w, 64<<10)}
	if c, ok := w.(io.Closer); ok && w != os.Stdout && w != os.Stderr {
		s.c = c
	}
	return s
}

// Last returns nil: a writer keeps no past lines.
func (s *Writer) Last() ([]byte, error) { return nil, nil }

// Write buffers line.
func (s *Writer) Write(line []byte) error {
	_, err := s.w.Write(line)
	return err
}

// Flush writes the buffered lines.
func (s *Writer) Flush() error { return s.w.Flush() }

// Close flushes and closes the writer.
func (s *Writer) Close() error {
	err := s.w.Flush()
	if s.c != nil {
		if cerr := s.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
