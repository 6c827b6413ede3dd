"""Metrics and monitoring (common/metrics, common/training/tensorboard.py)."""
from absl import flags

flags.DEFINE_list('metrics', None, 'Metrics at each network snapshot (or none): fid50k_full, kid50k_full, '
                  'pr50k3_full, ppl2_wend, ppl_zfull, ppl_wfull, ppl_zend, ppl_wend, is50k, fid50k, kid50k, pr50k3, '
                  'swd, msssim; counts may vary (fid2k_full, swd4k). See common/metrics/metric_main.py.')
flags.DEFINE_enum('feature_net', None, ['official', 'random'], 'Feature networks of FID/KID/IS/PR/PPL: the files '
                  'below (official) or randomly initialised ones (random: a labelled smoke test, meaningless numbers).')
flags.DEFINE_string('inception', None, 'inception_v3_features.pkl (or Keras InceptionV3 .h5) for FID/KID/IS '
                    '(default: $STYLEGAN2_INCEPTION).')
flags.DEFINE_string('vgg16', None, 'vgg16_zhang_perceptual.pkl for PPL (default: $STYLEGAN2_VGG16).')
flags.DEFINE_string('vgg16_features', None, 'Keras VGG16 .h5 with its top for PR (default: $STYLEGAN2_VGG16_FEATURES).')
flags.DEFINE_integer('metric_images', None, 'Replaces the image count of every metric (cheap runs on CPU).')
flags.DEFINE_string('metrics_cache', None, 'Dataset statistics cache (default: $GAN_METRICS_CACHE or '
                    '~/.cache/gan-metrics).')
flags.DEFINE_integer('swd_images', None, 'Images for the SWD printed at the end (0 = skip).')
flags.DEFINE_bool('tensorboard', False, 'Start TensorBoard on the run directory beside the training.')
