/* core/data/collate.h — one sample into its place in a collated batch: HWC u8 or
 * f32 to planar f32 (u8 scaled by 1/255), resized bilinearly when the sample is
 * not at the batch's (h, w) (recipes without a resize transform still run), a
 * grey image repeated over 3 channels.  Used by the loader's workers. */
#ifndef CV_CORE_DATA_COLLATE_H
#define CV_CORE_DATA_COLLATE_H

#include <cvnets/cvnets.h>

/* dst: c planes of h*w floats.  CV_ERR_INVALID with a message when the image's
 * channels cannot become c or its dtype is not u8/f32. */
int cv_collate_image(const cv_image *img, float *dst, int c, int h, int w, char *why, size_t whyn);

#endif
