/* NumPy .npz files: zip archives of .npy members (numpy.savez stores them,
 * numpy.savez_compressed deflates them). We find one member by name in the
 * central directory and read it through a FILE that inflates on the fly, so
 * an .npz member is read like a .npy file, in bounded memory. */
#ifndef VK_NPZ_H
#define VK_NPZ_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* Open member (NAME or NAME.npy) of the zip archive at path; returns a FILE
 * positioned at the member's first byte that ends at its last, checking its
 * CRC-32 at the end (a mismatch is a read error), or NULL with a message
 * that lists the members when there is no such one. */
FILE *npz_open_member(const char *path, const char *member, vk_error *e);

/* "FILE.npz:NAME" splits into FILE.npz and NAME (into buf); otherwise *member
 * is NULL and path is unchanged. */
const char *npz_split(const char *arg, char *buf, size_t len, const char **member);

#endif
