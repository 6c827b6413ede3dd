"""Devices and speed: replicas, machines, TPUs, XLA, mixed precision, profiling."""
from absl import flags

flags.DEFINE_integer('num_gpus', None, 'Replicas per machine (GPUs; logical CPU devices on a CPU-only host).')
flags.DEFINE_alias('gpus', 'num_gpus')  # ada-pytorch's spelling.
flags.DEFINE_string('worker_hosts', None, 'Multi-machine training: host:port of every worker, comma-separated, the '
                    'same on all (writes TF_CONFIG; or set TF_CONFIG yourself). Needs --run_dir on a shared filesystem.')
flags.DEFINE_integer('task_index', None, 'With --worker_hosts: this machine\'s position in the list (0 = chief).')
flags.DEFINE_string('tpu', None, 'Train with TPUStrategy on this TPU: its name, grpc://host:port, or local (TPU VM). '
                    'Untried (see README).')
flags.DEFINE_bool('xla', None, 'Compile each phase\'s loss/gradient computation with XLA (jit_compile); unset: per '
                  'phase the faster path on this device (the log says which and why; a resumed run keeps its own).')
flags.DEFINE_bool('fp16', None, 'StyleGAN2 mixed precision as StyleGAN2-ADA: --num_fp16_res=4 --conv_clamp=256.')
flags.DEFINE_integer('num_fp16_res', None, 'StyleGAN2: run the N highest resolutions of G and D in --fp16_dtype '
                     '(0 = float32).')
flags.DEFINE_float('conv_clamp', None, 'StyleGAN2: clamp conv outputs to +-X (ADA uses 256 with float16).')
flags.DEFINE_enum('fp16_dtype', None, ['float16', 'bfloat16'], 'StyleGAN2: dtype of the --num_fp16_res resolutions; '
                  'bfloat16 needs no loss scaling.')
flags.DEFINE_float('loss_scaling_init', None, 'StyleGAN2 float16: initial log2 of the dynamic loss scale (15).')
flags.DEFINE_integer('profile', None, 'Write a TensorBoard profiler trace of this many minibatch groups (each '
                     '--minibatch_repeats minibatches), after the first, into <run_dir>/profile.')
