/* Tensor streams (formats/tensor-stream.md): a header describing one record,
 * then records until the count or the end of the stream. Readers and writers
 * hold one record's worth of state; memory never grows with stream length. */
#ifndef VK_STREAM_H
#define VK_STREAM_H

#include <stdint.h>
#include <stdio.h>
#include "afile.h"
#include "err.h"

/* i32: integer values such as a VQ-VAE's code indices (tensor-stream 1.2) */
enum { TS_U8 = 1, TS_F32 = 2, TS_F64 = 3, TS_I32 = 4 };
/* i32 values read as floats must be exact there: |v| <= 2^24 */
#define TS_I32_EXACT (1 << 24)
#define TS_MAX_RANK 4
#define TS_COUNT_UNKNOWN UINT64_MAX
#define TS_MAX_HEADER 65536u
#define TS_MAX_META 16384u
#define TS_MAX_ELEMS (1u << 26)
#define TS_MAX_COUNT (1ull << 40)
#define TS_FLAG_LABELS 1u
#define TS_NO_LABEL (-1)
/* Version 1.1: a stream of unknown count ends with an end marker of this many
 * bytes (the magic, "END\0", CRC-32C of the records, the count, 8 reserved). */
#define TS_END_BYTES 32

typedef struct {
	int version_minor;        /* as read; writers always write 1.1 */
	int dtype;
	int rank;
	uint32_t dims[TS_MAX_RANK];
	int has_labels;
	uint64_t count;           /* TS_COUNT_UNKNOWN when not declared */
	size_t meta_len;
	char meta[TS_MAX_META + 1]; /* "key=value\n" lines, NUL-terminated */
} ts_header;

/* Fill h for a new stream (no labels, unknown count, no metadata). */
int ts_header_init(ts_header *h, int dtype, int rank, const uint32_t *dims, vk_error *e);
size_t ts_elems(const ts_header *h);
size_t ts_dtype_size(int dtype);
const char *ts_dtype_name(int dtype);
/* Element i of a record in its own dtype, as a double (u8 as 0..255, not
 * scaled); ts_put stores v there, rounded and clamped to an integer dtype's range. */
double ts_get(int dtype, const void *rec, size_t i);
void ts_put(int dtype, void *rec, size_t i, double v);
size_t ts_data_bytes(const ts_header *h);      /* one record's elements */
size_t ts_record_bytes(const ts_header *h);    /* label + elements */
/* "28x28" into buf. */
const char *ts_shape_str(const ts_header *h, char *buf, size_t len);

/* Metadata. get copies the value into buf (returns buf) or returns NULL. */
const char *ts_meta_get(const ts_header *h, const char *key, char *buf, size_t len);
int ts_meta_set(ts_header *h, const char *key, const char *value, vk_error *e);
/* Remove key's line; returns 1 if it was there. */
int ts_meta_unset(ts_header *h, const char *key);

/* Serialise / parse the header (exposed for tests and the fuzzer). */
size_t ts_header_size(const ts_header *h);
int ts_header_encode(const ts_header *h, unsigned char *buf, size_t len, vk_error *e);

typedef struct {
	FILE *f;
	int own;                /* close f on ts_reader_close */
	char name[256];         /* for messages: file name or "standard input" */
	ts_header h;
	uint64_t index;         /* records read so far */
	size_t data_bytes;
	unsigned char *buf;     /* one record, for conversions */
	char *iobuf;            /* stdio buffer we own */
	unsigned char ahead[8]; /* bytes read to look for a second header, not yet used */
	unsigned ahead_len, ahead_pos;
	int end_marker;         /* 1.1 or later with unknown count: ends with a marker */
	int ended;              /* the end marker was read: further reads return 0 */
	uint32_t crc;           /* CRC-32C of the records read (end_marker streams) */
	int32_t *relabel;       /* ts_reader_relabel's map, or NULL */
	int n_relabel;
} ts_reader;

/* path NULL or "-" reads stdin. Reads and checks the header. */
int ts_reader_open(ts_reader *r, const char *path, vk_error *e);
/* Same, on an already open FILE (not closed by ts_reader_close). */
int ts_reader_fopen(ts_reader *r, FILE *f, const char *name, vk_error *e);
void ts_reader_close(ts_reader *r);
/* From now on, a record's label L (0 <= L < n) reads as map[L]: the labels of
 * a stream whose class names were matched to a model's (classes.h). A label
 * n or more is then an error (the stream names only n classes); -1 stays. */
int ts_reader_relabel(ts_reader *r, const int32_t *map, int n, vk_error *e);
/* Read one record in the stream's own dtype into data (ts_data_bytes).
 * label may be NULL. Returns 1, 0 at a clean end, -1 on error. A second
 * stream's header where a record or the end should be (streams concatenated
 * by the shell) is an error saying after how many records it starts. The
 * clean end of a 1.1 stream of unknown count is its end marker, checked
 * (count, checksum, nothing after it); end of file before it is an error
 * ("truncated: the program writing it failed or was stopped"). 1.0 streams
 * end at end of file, as they always did. */
int ts_read(ts_reader *r, void *data, int32_t *label, vk_error *e);
/* Read one record converted to float: u8 scaled by 1/255 (to [0,1]), f64
 * narrowed. NaN or infinity in the input is an error. */
int ts_read_f32(ts_reader *r, float *data, int32_t *label, vk_error *e);
/* Read up to max records as floats into rows of ts_elems(); *got = rows read. */
int ts_read_batch_f32(ts_reader *r, float *data, int32_t *labels, size_t max, size_t *got,
		      vk_error *e);

typedef struct {
	vk_afile out;
	ts_header h;
	uint64_t written;
	size_t data_bytes;
	unsigned char *buf;     /* one record, for conversions */
	int count_patchable;
	int check_magic;        /* count unknown to the reader: no record may look like a
				 * header, and close ends the stream with an end marker */
	uint32_t crc;           /* CRC-32C of the records written, for the end marker */
	unsigned char tail[16]; /* last bytes written, for records shorter than the magic */
	size_t tail_len;
	char *iobuf;            /* stdio buffer we own, freed after the file closes */
} ts_writer;

/* path NULL or "-" writes stdout (refused on a terminal). A file is written
 * atomically and its count patched on close. */
int ts_writer_open(ts_writer *w, const char *path, const ts_header *h, vk_error *e);
/* Write one record. Into a stream whose count stays unknown (a pipe), a
 * record that would begin with the 8 magic bytes is refused: readers would
 * take it for a second stream's header (formats/tensor-stream.md). */
int ts_write(ts_writer *w, const void *data, int32_t label, vk_error *e);
/* Write a float record, converting to the stream's dtype (u8: round(x*255), clamped). */
int ts_write_f32(ts_writer *w, const float *data, int32_t label, vk_error *e);
/* Finish: check the declared count, patch it (a file) or write the end
 * marker (a pipe), flush, rename into place. Only close writes the marker: a
 * writer that fails calls ts_writer_abort (or dies), and its reader then
 * knows the stream is incomplete. */
int ts_writer_close(ts_writer *w, vk_error *e);
/* Close n writers whose files appear together or not at all
 * (vk_afile_commit_all); on failure none is left and old files stay. */
int ts_writer_close_all(ts_writer *w, int n, vk_error *e);
/* Abandon: remove the temporary file; a pipe gets no end marker. */
void ts_writer_abort(ts_writer *w);

#endif
