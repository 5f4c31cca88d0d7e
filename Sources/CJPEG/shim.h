#pragma once
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

/* libjpeg reports errors by calling error_exit, which must not return; Swift cannot longjmp, so
   decoding and encoding run here, in C, behind setjmp. Warnings (corrupt or truncated data that
   libjpeg would paper over with grey) count as errors: a dataset must not load half an image. */

struct cnntui_jpeg_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int warnings;
    char message[JMSG_LENGTH_MAX];
};

static inline void cnntui_jpeg_error_exit(j_common_ptr cinfo) {
    struct cnntui_jpeg_error *error = (struct cnntui_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, error->message);
    longjmp(error->jump, 1);
}

static inline void cnntui_jpeg_emit_message(j_common_ptr cinfo, int level) {
    struct cnntui_jpeg_error *error = (struct cnntui_jpeg_error *)cinfo->err;
    if (level < 0 && error->warnings++ == 0) (*cinfo->err->format_message)(cinfo, error->message);
}

/* Clears `error` and makes it report through the two handlers above (the same for decoding and encoding). */
static inline struct jpeg_error_mgr *cnntui_jpeg_errors(struct cnntui_jpeg_error *error) {
    memset(error, 0, sizeof *error);
    struct jpeg_error_mgr *manager = jpeg_std_error(&error->pub);
    manager->error_exit = cnntui_jpeg_error_exit;
    manager->emit_message = cnntui_jpeg_emit_message;
    return manager;
}

/* Decodes JPEG bytes to 8-bit interleaved RGB, or grey when the file is greyscale.
   Returns malloc'd pixels (free with free()) or NULL with a message. A header announcing more than
   `max_pixels` pixels is refused before libjpeg or this function allocates for the image. */
static inline unsigned char *cnntui_jpeg_decode(const unsigned char *data, unsigned long size, unsigned long long max_pixels,
                                                int *width, int *height, int *channels, char *message, size_t message_size) {
    struct jpeg_decompress_struct cinfo;
    struct cnntui_jpeg_error error;
    unsigned char *volatile pixels = NULL;
    cinfo.err = cnntui_jpeg_errors(&error);
    if (setjmp(error.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        snprintf(message, message_size, "%s", error.message);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    if ((unsigned long long)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(message, message_size, "refused: its header announces %ux%u pixels, more than %lu bytes of JPEG hold",
                 cinfo.image_width, cinfo.image_height, size);
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        snprintf(message, message_size, "out of memory for a %ux%u image", cinfo.output_width, cinfo.output_height);
        return NULL;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    *channels = cinfo.output_components;
    jpeg_destroy_decompress(&cinfo);
    if (error.warnings > 0) {
        free(pixels);
        snprintf(message, message_size, "corrupt JPEG data: %s", error.message);
        return NULL;
    }
    return pixels;
}

/* Encodes 8-bit interleaved RGB or grey pixels as a JPEG file. Returns 0 on success. */
static inline int cnntui_jpeg_encode_file(const char *path, const unsigned char *pixels, int width, int height,
                                          int channels, int quality, char *message, size_t message_size) {
    struct jpeg_compress_struct cinfo;
    struct cnntui_jpeg_error error;
    FILE *volatile file = NULL;
    cinfo.err = cnntui_jpeg_errors(&error);
    if (setjmp(error.jump)) {
        jpeg_destroy_compress(&cinfo);
        if (file) fclose(file);
        snprintf(message, message_size, "%s", error.message);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    file = fopen(path, "wb");
    if (!file) {
        jpeg_destroy_compress(&cinfo);
        snprintf(message, message_size, "cannot create file");
        return -1;
    }
    jpeg_stdio_dest(&cinfo, file);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * channels);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    fclose(file);
    return 0;
}
