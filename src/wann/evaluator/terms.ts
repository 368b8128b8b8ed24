/**
 * A row's pre-activation terms, for every backend: the input sum first, then the hidden sources in
 * connection order, each read where its value at this weight lives. Written once here so the JS
 * loops, the float64 kernel's term lists and the float32 kernel's program cannot disagree.
 */
import { PARITY_EVEN, PARITY_ODD } from '../activations';
import type { Plan } from '../plan';
import type { ScratchLayout } from './backend';

/** Reusable (offset, sign) list of one row's terms. */
export class TermList {
  /** Element index of each term's row in the scratch. */
  off = new Int32Array(16);
  /** ±1 per term. */
  sign = new Float64Array(16);
  count = 0;
  /** Whether any sign is −1. */
  signed = false;

  /** Room for the terms of every row of the plan (its input sum and hidden sources). */
  reserve(plan: Plan): void {
    if (this.off.length < plan.maxHiddenSources + 2) {
      this.off = new Int32Array(plan.maxHiddenSources + 2);
      this.sign = new Float64Array(plan.maxHiddenSources + 2);
    }
  }

  /**
   * Row r's terms at w (`mirrored` false: hidden sources from plane A) or at −w (each hidden source
   * as its parity says: plane A for even, −plane A for odd, else its own value at −w in plane B).
   */
  load(plan: Plan, layout: ScratchLayout, r: number, mirrored: boolean): void {
    const { off, sign } = this;
    const { tile, planeA, planeB } = layout;
    const { hiddenStart, hiddenSource, rowParity } = plan;
    const si = plan.sumIndex[r];
    let n = 0;
    let signed = false;
    if (si >= 0) {
      off[0] = si * tile;
      sign[0] = 1;
      n = 1;
    }
    for (let e = hiddenStart[r]; e < hiddenStart[r + 1]; e++, n++) {
      const h = hiddenSource[e];
      const p = mirrored ? rowParity[h] : PARITY_EVEN;
      off[n] = (p === PARITY_EVEN || p === PARITY_ODD ? planeA : planeB) + h * tile;
      sign[n] = p === PARITY_ODD ? -1 : 1;
      if (p === PARITY_ODD) signed = true;
    }
    this.count = n;
    this.signed = signed;
  }
}
