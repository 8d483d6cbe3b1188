/* sdk/lib/image_ops_augment.c — the operations of torchvision's AutoAugment,
 * RandAugment and TrivialAugmentWide (torchvision.transforms.autoaugment): their
 * names, magnitude tables (torch.linspace in float32) and _apply_op. */
#include <cvnets/image_ops.h>

#include <math.h>

static const char *const op_names[CV_AUG_COUNT] = {
    "Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
    "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize", "Invert",
};

const char *cv_aug_op_name(int op) { return op >= 0 && op < CV_AUG_COUNT ? op_names[op] : "?"; }

/* torch.linspace(start, end, steps)[i] for float32: the first half counts up from
 * start, the second half down from end, in float arithmetic */
static float linspace_f32(double start, double end, int steps, int i) {
    float s = (float)start, e = (float)end;
    if (steps == 1) return s;
    float step = (e - s) / (float)(steps - 1);
    return i < steps / 2 ? s + step * (float)i : e - step * (float)(steps - i - 1);
}

double cv_aug_magnitude(int space, int op, int bin, int num_bins, int image_h, int image_w, int *is_signed) {
    int wide = space == 1;
    int sign = 0;
    double m = 0.0;
    if (num_bins < 1) num_bins = 1;
    if (bin < 0) bin = 0;
    if (bin >= num_bins) bin = num_bins - 1;
    switch (op) {
    case CV_AUG_SHEAR_X:
    case CV_AUG_SHEAR_Y: m = linspace_f32(0.0, wide ? 0.99 : 0.3, num_bins, bin); sign = 1; break;
    case CV_AUG_TRANSLATE_X:
        m = linspace_f32(0.0, wide ? 32.0 : 150.0 / 331.0 * image_w, num_bins, bin);
        sign = 1;
        break;
    case CV_AUG_TRANSLATE_Y:
        m = linspace_f32(0.0, wide ? 32.0 : 150.0 / 331.0 * image_h, num_bins, bin);
        sign = 1;
        break;
    case CV_AUG_ROTATE: m = linspace_f32(0.0, wide ? 135.0 : 30.0, num_bins, bin); sign = 1; break;
    case CV_AUG_BRIGHTNESS:
    case CV_AUG_COLOR:
    case CV_AUG_CONTRAST:
    case CV_AUG_SHARPNESS: m = linspace_f32(0.0, wide ? 0.99 : 0.9, num_bins, bin); sign = 1; break;
    case CV_AUG_POSTERIZE: {
        /* 8 - (arange(n) / ((n - 1) / k)).round(), float32, half to even */
        float div = (float)((num_bins - 1) / (wide ? 6.0 : 4.0));
        float q = num_bins > 1 ? (float)bin / div : 0.0f;
        m = 8 - (int)nearbyintf(q);
        break;
    }
    case CV_AUG_SOLARIZE: m = linspace_f32(255.0, 0.0, num_bins, bin); break;
    default: m = 0.0; break;
    }
    if (is_signed) *is_signed = sign;
    return m;
}

int cv_aug_apply(const cv_host *host, cv_image *im, int op, double magnitude, int interp, const double *fill,
                 const char *who, cv_error *err) {
    int rc = cv_image_check(host, im, who, err);
    if (rc != CV_OK) return rc;
    if (im->dtype != CV_U8)
        return host->set_error(err, CV_ERR_INVALID, "%s: %s needs a u8 image (put it before normalize)", who,
                               cv_aug_op_name(op));
    double m[6];
    const double deg = 180.0 / 3.14159265358979323846;
    cv_image out = { 0 };
    switch (op) {
    case CV_AUG_IDENTITY: return CV_OK;
    case CV_AUG_SHEAR_X:
        cv_affine_inverse_matrix(0, 0, 0, 0, 0, 1, atan(magnitude) * deg, 0, m);
        rc = cv_image_affine(host, im, m, interp, fill, &out, who, err);
        break;
    case CV_AUG_SHEAR_Y:
        cv_affine_inverse_matrix(0, 0, 0, 0, 0, 1, 0, atan(magnitude) * deg, m);
        rc = cv_image_affine(host, im, m, interp, fill, &out, who, err);
        break;
    case CV_AUG_TRANSLATE_X:
    case CV_AUG_TRANSLATE_Y: {
        double t = trunc(magnitude);
        cv_affine_inverse_matrix(im->w * 0.5, im->h * 0.5, 0, op == CV_AUG_TRANSLATE_X ? t : 0,
                                 op == CV_AUG_TRANSLATE_Y ? t : 0, 1, 0, 0, m);
        rc = cv_image_affine(host, im, m, interp, fill, &out, who, err);
        break;
    }
    case CV_AUG_ROTATE: rc = cv_image_rotate(host, im, magnitude, interp, fill, &out, who, err); break;
    case CV_AUG_BRIGHTNESS: return cv_image_adjust_brightness(host, im, 1.0 + magnitude, who, err);
    case CV_AUG_COLOR: return cv_image_adjust_saturation(host, im, 1.0 + magnitude, who, err);
    case CV_AUG_CONTRAST: return cv_image_adjust_contrast(host, im, 1.0 + magnitude, who, err);
    case CV_AUG_SHARPNESS: return cv_image_adjust_sharpness(host, im, 1.0 + magnitude, who, err);
    case CV_AUG_POSTERIZE: return cv_image_posterize(host, im, (int)magnitude, who, err);
    case CV_AUG_SOLARIZE: return cv_image_solarize(host, im, magnitude, who, err);
    case CV_AUG_AUTOCONTRAST: return cv_image_autocontrast(host, im, who, err);
    case CV_AUG_EQUALIZE: return cv_image_equalize(host, im, who, err);
    case CV_AUG_INVERT: return cv_image_invert(host, im, who, err);
    default: return host->set_error(err, CV_ERR_INVALID, "%s: unknown augmentation op %d", who, op);
    }
    if (rc != CV_OK) return rc;
    cv_image_replace(host, im, &out);
    return CV_OK;
}
