"""Metrics of a trained network (ada-pytorch calc_metrics.py):

  python -m common.metrics --network=PATH --metrics=fid50k_full,kid50k_full,pr50k3_full,ppl_wend,is50k,swd,msssim
                           [--data=TFRECORD_DIR] [--inception=inception_v3_features.pkl] [--vgg16=...]
                           [--vgg16_features=...] [--feature_net=random] [--num_images=N] [--num_gpus=1]
                           [--metrics_cache=DIR]

PATH is one of our snapshot directories, a run directory (its newest valid snapshot) or an official ProGAN /
StyleGAN2 / StyleGAN2-ADA pickle; the family is told from the file. --data defaults to the dataset the snapshot
was trained on. Results are printed, and appended to `metric-<name>.jsonl` beside the snapshot when it lies in
a run directory (or in --outdir). train.py's --metric_images is accepted for --num_images, and --cache_dir
(this tool's earlier name) for --metrics_cache.
Feature networks are read from local files (see common/metrics/detectors.py and the README); with
--feature_net=random they are randomly initialised and every output says so.
"""
import os
import sys

from absl import flags


from common.util import cli
from common import families
from common.util.pickle_io import NetworkLoadError
from common.metrics.inception import FeatureNetError
from common.training.run_dir import resolve_network_path

FLAGS = cli.new_flag_values()
flags.DEFINE_string('network', None, 'Snapshot directory, run directory (its newest valid snapshot) or official '
                    'network pickle.', flag_values=FLAGS)
flags.DEFINE_list('metrics', ['fid50k_full'], 'Comma-separated metric names (common/metrics/metric_main.py).',
                  flag_values=FLAGS)
flags.DEFINE_string('data', None, 'TFRecord dataset of the reals (default: the snapshot\'s training data).',
                    flag_values=FLAGS)
flags.DEFINE_integer('num_gpus', 1, 'Devices; the metrics run on one (other values are refused).', flag_values=FLAGS)
flags.DEFINE_enum('feature_net', 'official', ['official', 'random'], 'Feature networks: the files (official) or '
                  'randomly initialised ones (a labelled smoke test; meaningless numbers).', flag_values=FLAGS)
flags.DEFINE_string('inception', None, 'inception_v3_features.pkl / inception_v3_softmax.pkl (official) or Keras '
                    'InceptionV3 .h5 (default: $STYLEGAN2_INCEPTION).', flag_values=FLAGS)
flags.DEFINE_string('vgg16', None, 'vgg16_zhang_perceptual.pkl for PPL (default: $STYLEGAN2_VGG16).',
                    flag_values=FLAGS)
flags.DEFINE_string('vgg16_features', None, 'Keras VGG16 .h5 with its top for PR (default: '
                    '$STYLEGAN2_VGG16_FEATURES).', flag_values=FLAGS)
flags.DEFINE_integer('num_images', None, 'Replaces every metric\'s image count (cheap runs).', lower_bound=2,
                     flag_values=FLAGS)
flags.DEFINE_string('metrics_cache', None, 'Dataset statistics cache (default: $GAN_METRICS_CACHE or '
                    '~/.cache/gan-metrics).', flag_values=FLAGS)
# train.py's names for the same two, and this tool's earlier name of the cache.
flags.DEFINE_alias('metric_images', 'num_images', flag_values=FLAGS)
flags.DEFINE_alias('cache_dir', 'metrics_cache', flag_values=FLAGS)
flags.DEFINE_integer('seed', 0, 'Seed of latents, labels, noise and subsets.', flag_values=FLAGS)
flags.DEFINE_string('outdir', None, 'Where to append metric-<name>.jsonl (default: the snapshot\'s run directory).',
                    flag_values=FLAGS)
flags.DEFINE_bool('progress', True, 'Show progress bars.', flag_values=FLAGS)


def _snapshot_data(path):
    from common.util.snapshot import read_snapshot_state
    state = read_snapshot_state(path) if os.path.isdir(path) else None
    return ((state or {}).get('options') or {}).get('data')


def main():
    from common.metrics import metric_main
    from common.metrics.detectors import FeatureNetworks
    from common.metrics.metric_utils import MetricOptions
    F = FLAGS
    if not F.network:
        raise ValueError('--network is required (see --help)')
    if F.num_gpus != 1:
        raise ValueError(f'--num_gpus={F.num_gpus}: the metrics run on one device here')
    for name in F.metrics:
        metric_main.parse_metric(name)                      # Every name checked before anything runs.
    network = resolve_network_path(F.network)
    family, networks = families.load_any_network(network)
    data = F.data or _snapshot_data(network)
    if not data:
        raise ValueError('--data is required for an official pickle (the TFRecord dataset of the reals)')
    nets = FeatureNetworks(F.feature_net, dict(inception=F.inception, vgg16=F.vgg16, vgg16_features=F.vgg16_features),
                           seed=F.seed)
    opts = MetricOptions(sampler=family.sampler(networks.Gs), data=data, nets=nets, num_images=F.num_images,
                         cache_dir=F.metrics_cache, seed=F.seed, progress=F.progress)
    outdir = F.outdir or (os.path.dirname(os.path.abspath(network)) if os.path.isdir(network) else None)
    print(f'Network {network} ({family.NAME}), data {data}, feature networks: {nets.label}')
    for name in F.metrics:
        result = metric_main.calc_metric(name, opts)
        print(f'{name}: {metric_main.format_result(result)}')
        if outdir:
            metric_main.report_metric(result, outdir, snapshot=os.path.basename(os.path.abspath(network)))


def run(argv):
    """The command line `argv` (argv[0] = program name) -> exit status; bad input -> one 'error:' line, 1."""
    from data.tfrecord_io import DatasetError
    return cli.run_tool(main, FLAGS, argv, __doc__,
                        errors=(NetworkLoadError, FeatureNetError, DatasetError, ValueError, OSError))


if __name__ == '__main__':
    sys.exit(run(sys.argv))
