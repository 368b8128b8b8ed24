"""Dense, reference-style WANN evaluation in numpy: the baseline the core benchmark compares to.

Written from the description of the reference implementation's method (not its code): each genome
becomes a dense node x node weight matrix in topological order, and every non-input node's value is
a full dot product over all node values (act(nodeAct @ W[:, i])), once per shared weight. Prints
{"secondsPerGenome": s} for the genomes in the JSON file given as argument.
"""
import base64
import json
import sys
import time

import numpy as np

ACTS = {
    1: lambda x: x,
    2: lambda x: (x > 0).astype(np.float64),
    3: lambda x: np.sin(np.pi * x),
    4: lambda x: np.exp(-(x * x) / 2.0),
    5: np.tanh,
    6: lambda x: (np.tanh(x / 2.0) + 1.0) / 2.0,
    7: lambda x: -x,
    8: np.abs,
    9: lambda x: np.maximum(0, x),
    10: lambda x: np.cos(np.pi * x),
    11: lambda x: x * x,
}


def topological(n, edges):
    indeg = [0] * n
    out = [[] for _ in range(n)]
    for s, d in edges:
        indeg[d] += 1
        out[s].append(d)
    ready = [i for i in range(n) if indeg[i] == 0]
    order = []
    while ready:
        i = ready.pop()
        order.append(i)
        for d in out[i]:
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
    return order


def evaluate(genome, x, labels, weights):
    n = len(genome["nodes"])
    n_in = genome["inputs"] + 1
    edges = [(c["src"], c["dst"]) for c in genome["conns"] if c["enabled"]]
    order = [i for i in topological(n, edges) if i >= n_in]
    order = list(range(n_in)) + order
    pos = {node: k for k, node in enumerate(order)}
    conn = np.zeros((n, n))
    for s, d in edges:
        conn[pos[s], pos[d]] = 1.0
    acts = [genome["nodes"][node]["act"] for node in order]
    outputs = [pos[genome["inputs"] + 1 + o] for o in range(genome["outputs"])]
    fitness = []
    for w in weights:
        wmat = conn * w
        node_act = np.zeros((x.shape[0], n))
        node_act[:, 0] = 1.0
        node_act[:, 1:n_in] = x
        for k in range(n_in, n):
            node_act[:, k] = ACTS[acts[k]](node_act @ wmat[:, k])
        logits = node_act[:, outputs]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        fitness.append(-np.mean(np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-12))))
    return fitness


def main():
    doc = json.load(open(sys.argv[1]))
    count = doc["count"]
    flat = np.frombuffer(base64.b64decode(doc["inputs"]), dtype=np.float32).astype(np.float64)
    x = flat.reshape(-1, count).T  # input-major on the wire -> (count, inputs)
    labels = np.array(doc["labels"])
    # CPU time of this (single-threaded: OMP/OpenBLAS threads are 1) process, as bench/core.ts
    # measures its one-thread rows, so that load from other processes does not skew the ratio.
    start = time.process_time()
    for g in doc["genomes"]:
        evaluate(g, x, labels, doc["weights"])
    elapsed = time.process_time() - start
    print(json.dumps({"secondsPerGenome": elapsed / len(doc["genomes"])}))


main()
