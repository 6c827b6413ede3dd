"""One worker of the two-process test in test_multiworker.py (not a test module itself).

    python tests/multiworker_worker.py OPTIONS_JSON WEIGHTS_NPZ     (TF_CONFIG in the environment)

Trains with training_loop and saves every weight this worker ends with, so that the test can compare
the workers with each other and with a single-process run."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.training.distribute import make_strategy  # noqa: E402

if __name__ == '__main__':
    from common.training.options import TrainingOptions
    options = TrainingOptions.from_json(json.loads(sys.argv[1]))
    make_strategy(options.num_gpus)  # Before any other TensorFlow work: collectives are set up at start-up.
    import numpy as np
    import pggan.family
    from common.training.loop import training_loop
    built = []
    build = pggan.family.build
    pggan.family.build = lambda *args: built.append(build(*args)) or built[-1]
    training_loop(options)
    np.savez(sys.argv[2], *[w.numpy() for net in built[0].nets.values() for w in net.weights])
