/* cvnets/image_ops.h — image primitives on cv_image for transform plugins (and third
 * parties): resampling, crop, pad, flip, affine warps, colour operations and the
 * AutoAugment-family operations, with torchvision's semantics.
 *
 * Images are HWC, c = 1..4, dtype CV_U8 (values 0..255) or CV_F32 (values in
 * [0, 1] before normalisation, like torchvision's float tensors).  Pixel data is
 * allocated with host->alloc and freed with host->free.
 *
 * Conventions (they decide exact pixel values):
 *  - geometry follows torchvision on PIL images (Pillow's resampling: separable
 *    filters with antialiasing when shrinking, bicubic a = -0.5, fixed-point
 *    arithmetic for u8 with a rounded u8 intermediate after the horizontal pass;
 *    nearest and affine warps sample at pixel centres, floor of the coordinate);
 *  - colour operations follow torchvision's tensor functions on uint8 / float
 *    tensors (float maths, truncation back to u8).
 * Functions that make a new image write it to *out (out->data freshly allocated)
 * and never touch the source; "in place" functions modify im->data.  Every
 * function returns CV_OK or a negative cv_status with err filled (the message
 * starts with the caller-supplied `who`, e.g. "transform/resize"). */
#ifndef CVNETS_IMAGE_OPS_H
#define CVNETS_IMAGE_OPS_H

#include "cvnets.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CV_IMAGE_MAX_SIDE 32768   /* larger sides are rejected before allocating */
#define CV_IMAGE_MAX_CHANNELS 4

typedef enum cv_interp { CV_INTERP_NEAREST = 0, CV_INTERP_BILINEAR = 1, CV_INTERP_BICUBIC = 2 } cv_interp;
typedef enum cv_pad_mode { CV_PAD_CONSTANT = 0, CV_PAD_EDGE = 1, CV_PAD_REFLECT = 2, CV_PAD_SYMMETRIC = 3 } cv_pad_mode;

/* The choices lists used by option schemas ("nearest", "bilinear", "bicubic" and
 * "constant", "edge", "reflect", "symmetric"), NULL-terminated. */
extern const char *const cv_interp_names[];
extern const char *const cv_pad_mode_names[];
int cv_interp_from_name(const char *name);   /* -1 when unknown */
int cv_pad_mode_from_name(const char *name); /* -1 when unknown */

/* ---- basics ----------------------------------------------------------------------- */
/* Check dims, channels, dtype and data; `who` names the caller in the message. */
int cv_image_check(const cv_host *host, const cv_image *im, const char *who, cv_error *err);
size_t cv_image_elems(const cv_image *im);   /* h*w*c */
size_t cv_image_bytes(const cv_image *im);
double cv_image_bound(const cv_image *im);   /* 255 for u8, 1 for f32 */
int cv_image_new(const cv_host *host, int h, int w, int c, int dtype, cv_image *out, const char *who, cv_error *err);
void cv_image_free(const cv_host *host, cv_image *im);
/* free dst's pixels and move src into dst (src is left empty) */
void cv_image_replace(const cv_host *host, cv_image *dst, cv_image *src);

/* ---- geometry ------------------------------------------------------------------- */
/* Resize the whole image to out_h x out_w (Pillow's Image.resize). */
int cv_image_resize(const cv_host *host, const cv_image *src, int out_h, int out_w, int interp, cv_image *out,
                    const char *who, cv_error *err);
/* Resample the box rows [top, top+h), columns [left, left+w) of src to out_h x out_w
 * (Pillow's resize(size, box=...), i.e. torchvision's resized_crop).  The box must
 * lie inside the image. */
int cv_image_resized_crop(const cv_host *host, const cv_image *src, int top, int left, int h, int w, int out_h,
                          int out_w, int interp, cv_image *out, const char *who, cv_error *err);
/* Copy the h x w window at (top, left); parts outside src get fill[ch] (NULL: 0),
 * in the image's units. */
int cv_image_crop(const cv_host *host, const cv_image *src, int top, int left, int h, int w, const double *fill,
                  cv_image *out, const char *who, cv_error *err);
/* Pad by the given amounts (torchvision.transforms.functional.pad modes). */
int cv_image_pad(const cv_host *host, const cv_image *src, int top, int bottom, int left, int right, int mode,
                 const double *fill, cv_image *out, const char *who, cv_error *err);
void cv_image_hflip(cv_image *im);
void cv_image_vflip(cv_image *im);

/* torchvision's _get_inverse_affine_matrix: m maps an output point to the input
 * point, both in pixel coordinates whose pixel (x, y) has its centre at
 * (x + 0.5, y + 0.5).  angle and shears in degrees (clockwise angle as F.affine),
 * centre in pixel coordinates. */
void cv_affine_inverse_matrix(double cx, double cy, double angle, double tx, double ty, double scale,
                              double shear_x, double shear_y, double m[6]);
/* Warp with the inverse matrix m (output size = input size); samples falling
 * outside get fill[ch] (NULL: 0). */
int cv_image_affine(const cv_host *host, const cv_image *src, const double m[6], int interp, const double *fill,
                    cv_image *out, const char *who, cv_error *err);
/* torchvision F.rotate on a PIL image: counter-clockwise degrees about the centre. */
int cv_image_rotate(const cv_host *host, const cv_image *src, double angle, int interp, const double *fill,
                    cv_image *out, const char *who, cv_error *err);

/* ---- colour (in place; torchvision tensor semantics) ------------------------------ */
int cv_image_adjust_brightness(const cv_host *host, cv_image *im, double factor, const char *who, cv_error *err);
int cv_image_adjust_contrast(const cv_host *host, cv_image *im, double factor, const char *who, cv_error *err);
int cv_image_adjust_saturation(const cv_host *host, cv_image *im, double factor, const char *who, cv_error *err);
int cv_image_adjust_hue(const cv_host *host, cv_image *im, double hue_factor, const char *who, cv_error *err);
int cv_image_adjust_sharpness(const cv_host *host, cv_image *im, double factor, const char *who, cv_error *err);
int cv_image_posterize(const cv_host *host, cv_image *im, int bits, const char *who, cv_error *err); /* u8 only */
int cv_image_solarize(const cv_host *host, cv_image *im, double threshold, const char *who, cv_error *err);
int cv_image_equalize(const cv_host *host, cv_image *im, const char *who, cv_error *err); /* u8 only */
int cv_image_autocontrast(const cv_host *host, cv_image *im, const char *who, cv_error *err);
int cv_image_invert(const cv_host *host, cv_image *im, const char *who, cv_error *err);

/* ---- AutoAugment-family operations (torchvision.transforms.autoaugment) ------------ */
typedef enum cv_aug_op {
    CV_AUG_IDENTITY = 0, CV_AUG_SHEAR_X, CV_AUG_SHEAR_Y, CV_AUG_TRANSLATE_X, CV_AUG_TRANSLATE_Y, CV_AUG_ROTATE,
    CV_AUG_BRIGHTNESS, CV_AUG_COLOR, CV_AUG_CONTRAST, CV_AUG_SHARPNESS, CV_AUG_POSTERIZE, CV_AUG_SOLARIZE,
    CV_AUG_AUTOCONTRAST, CV_AUG_EQUALIZE, CV_AUG_INVERT, CV_AUG_COUNT
} cv_aug_op;
const char *cv_aug_op_name(int op); /* torchvision's name, e.g. "ShearX" */
/* The magnitude of bin `bin` of `op` in torchvision's augmentation space for
 * space = 0 (RandAugment / AutoAugment: 0.3 shear, 150/331 of the side translate,
 * 30 degrees, 0.9 colour, 4 posterize steps) or 1 (TrivialAugmentWide: 0.99, 32 px,
 * 135 degrees, 0.99, 6 steps).  Computed in float32 like torch.linspace.
 * *is_signed tells whether the op flips its sign at random; ops without a
 * magnitude return 0. */
double cv_aug_magnitude(int space, int op, int bin, int num_bins, int image_h, int image_w, int *is_signed);
/* torchvision's _apply_op (u8 images). */
int cv_aug_apply(const cv_host *host, cv_image *im, int op, double magnitude, int interp, const double *fill,
                 const char *who, cv_error *err);

#ifdef __cplusplus
}
#endif
#endif
