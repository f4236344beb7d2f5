package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"
)

// isXLSX reports whether a file starts as a zip archive does, which is
// how .xlsx workbooks start (a CSV file cannot).
func isXLSX(sample []byte) bool { return bytes.HasPrefix(sample, []byte("PK\x03\x04")) }

// convertXLSX stores the first sheet of the workbook object as CSV (UTF-8,
// commas) under object+".csv", deletes the workbook, and returns the
// sheet's name. The workbook is read whole (it is at most MaxBody); its
// sheet is read a row at a time.
func (s *Server) convertXLSX(ctx context.Context, object string) (string, error) {
	src, err := s.Bus.OpenObject(ctx, object)
	if err != nil {
		return "", err
	}
	data, err := io.ReadAll(src)
	src.Close()
	if err != nil {
		return "", err
	}
	wb, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: 16 * s.maxBody(), UnzipXMLSizeLimit: 16 * s.maxBody()})
	if err != nil {
		return "", fmt.Errorf("the file is not an Excel workbook (.xlsx): %w", err)
	}
	defer wb.Close()
	sheets := wb.GetSheetList()
	if len(sheets) == 0 {
		return "", errors.New("the workbook has no sheet")
	}
	rows, err := wb.Rows(sheets[0])
	if err != nil {
		return "", err
	}
	defer rows.Close()
	pr, pw := io.Pipe()
	go func() {
		cw := csv.NewWriter(pw)
		cw.UseCRLF = true
		var err error
		for err == nil && rows.Next() {
			var cells []string
			if cells, err = rows.Columns(); err == nil {
				err = cw.Write(cells)
			}
		}
		if err == nil {
			err = rows.Error()
		}
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
		_ = pw.CloseWithError(err)
	}()
	_, err = s.Bus.PutObject(ctx, object+".csv", pr)
	_ = pr.CloseWithError(err)
	if err != nil {
		return "", fmt.Errorf("reading the workbook: %w", err)
	}
	s.Bus.DeleteObjects(context.WithoutCancel(ctx), object)
	return sheets[0], nil
}

// workbook converts the upload when it is a workbook: it returns the
// object to read as CSV and the sheet read ("" for a CSV upload).
func (s *Server) workbook(ctx context.Context, object string) (string, string, error) {
	src, err := s.Bus.OpenObject(ctx, object)
	if err != nil {
		return "", "", err
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(src, head)
	src.Close()
	if !isXLSX(head[:n]) {
		return object, "", nil
	}
	sheet, err := s.convertXLSX(ctx, object)
	return object + ".csv", sheet, err
}
