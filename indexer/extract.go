// Package indexer turns uploaded documents into searchable pieces: it extracts
// their text, splits it into overlapping chunks, embeds the chunks and keeps
// the local search index in step with Postgres.
package indexer

import (
	"errors"
	"fmt"
	"mime"
	"path"
	"strings"
)

// Canonical MIME types accepted by Extract.
const (
	MIMEPlain    = "text/plain"
	MIMEMarkdown = "text/markdown"
	MIMEHTML     = "text/html"
	MIMEPDF      = "application/pdf"
	MIMEDOCX     = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
)

var supportedMIMETypes = []string{MIMEPlain, MIMEMarkdown, MIMEHTML, MIMEPDF, MIMEDOCX}

var (
	// ErrUnsupportedType is returned for documents whose type Extract cannot read.
	ErrUnsupportedType = errors.New("unsupported document type; supported types are " +
		strings.Join(supportedMIMETypes, ", "))
	// ErrEmptyText is returned when a document yields no text, e.g. a scanned
	// PDF without a text layer.
	ErrEmptyText = errors.New("document contains no extractable text (supported types are " +
		strings.Join(supportedMIMETypes, ", ") + "; scanned PDFs need a text layer)")
	// ErrTooLarge is returned when the extracted text, or a compressed part of
	// the document, would exceed the extraction limits.
	ErrTooLarge = errors.New("document exceeds the extraction size limit")
)

// maxTextBytes caps the extracted text. Uploads are size-limited by the
// caller, but compressed formats (PDF streams, DOCX) can expand far beyond
// their upload size.
const maxTextBytes = 32 << 20

// SupportedMIMETypes returns the canonical MIME types Extract accepts.
func SupportedMIMETypes() []string {
	return append([]string(nil), supportedMIMETypes...)
}

var mimeAliases = map[string]string{
	"text/plain":            MIMEPlain,
	"text/markdown":         MIMEMarkdown,
	"text/x-markdown":       MIMEMarkdown,
	"text/md":               MIMEMarkdown,
	"text/x-md":             MIMEMarkdown,
	"text/html":             MIMEHTML,
	"application/xhtml+xml": MIMEHTML,
	"application/pdf":       MIMEPDF,
	"application/x-pdf":     MIMEPDF,
	MIMEDOCX:                MIMEDOCX,
}

var extTypes = map[string]string{
	".txt":      MIMEPlain,
	".text":     MIMEPlain,
	".md":       MIMEMarkdown,
	".markdown": MIMEMarkdown,
	".html":     MIMEHTML,
	".htm":      MIMEHTML,
	".xhtml":    MIMEHTML,
	".pdf":      MIMEPDF,
	".docx":     MIMEDOCX,
}

// NormalizeMIME maps a declared MIME type and file name to one of
// SupportedMIMETypes. Parameters such as charset are ignored. The file
// extension decides when the declared type is missing or generic
// (application/octet-stream), and it refines text/plain to text/markdown for
// .md files because browsers and HTTP clients commonly label those as plain
// text. Any other type is refused with an error wrapping ErrUnsupportedType.
func NormalizeMIME(mimeType, filename string) (string, error) {
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(filename, `\`, "/")))
	byExt, extOK := extTypes[ext]

	declared := strings.TrimSpace(mimeType)
	if declared != "" {
		if mt, _, err := mime.ParseMediaType(declared); err == nil {
			declared = mt
		} else {
			// Keep going with the bare type: a malformed parameter should not
			// turn a valid "text/html; charset" into a refusal.
			declared = strings.ToLower(strings.TrimSpace(strings.SplitN(declared, ";", 2)[0]))
		}
	}

	switch declared {
	case "", "application/octet-stream", "binary/octet-stream", "application/unknown":
		if extOK {
			return byExt, nil
		}
		return "", fmt.Errorf("%w (got type %q, file %q)", ErrUnsupportedType, mimeType, filename)
	}
	canon, ok := mimeAliases[declared]
	if !ok {
		return "", fmt.Errorf("%w (got type %q)", ErrUnsupportedType, mimeType)
	}
	if canon == MIMEPlain && extOK && byExt == MIMEMarkdown {
		return MIMEMarkdown, nil
	}
	return canon, nil
}

// Extract converts a document into normalised, markdown-like text so that the
// chunker only has to understand one format: headings are "#" lines, list
// items start with "- " or "1. ", table rows are "| a | b |" lines, code is
// fenced with backticks, and blocks are separated by blank lines. mimeType
// may be any alias NormalizeMIME accepts.
func Extract(mimeType string, data []byte) (string, error) {
	mt, err := NormalizeMIME(mimeType, "")
	if err != nil {
		return "", err
	}
	var text string
	switch mt {
	case MIMEPlain:
		text = normalizePlain(data)
	case MIMEMarkdown:
		text, err = extractMarkdown(data)
	case MIMEHTML:
		text, err = extractHTML(data)
	case MIMEPDF:
		text, err = extractPDF(data)
	case MIMEDOCX:
		text, err = extractDOCX(data)
	}
	if err != nil {
		return "", fmt.Errorf("extract %s: %w", mt, err)
	}
	if strings.TrimSpace(text) == "" {
		return "", ErrEmptyText
	}
	return text, nil
}
