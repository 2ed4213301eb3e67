#! /usr/bin/env python3
# ns-3's test.py runs these example programs of the module (with --enable-examples --enable-tests) to
# keep them building and running: (program and arguments, run condition, valgrind-run condition).
cpp_examples = [
    ("rmlq-queue-disc-example --simTime=1", "True", "True"),
]

python_examples = []
