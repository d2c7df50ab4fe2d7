import type { SendResult } from '../../delivery/sender.js';

/** Why a point has no form in a backend, said once for all exporters. */
const HINTS: Record<string, string> = {
  delta_temporality:
    'delta points have no Prometheus form: put the deltatocumulative processor before this exporter',
  exponential_histogram: 'exponential histograms have no form in this backend',
  no_recorded_value: 'points flagged "no recorded value"',
  empty_metric: 'metrics without data',
  non_finite_value: 'NaN or infinite values, which the backend cannot store',
};

/**
 * The send result for points an exporter could not translate: reported as rejected with
 * the reasons, so the delivery engine counts them and logs why (never a silent drop).
 */
export function skippedResult(skipped: Record<string, number>): SendResult {
  const rejectedPoints = Object.values(skipped).reduce((a, b) => a + b, 0);
  if (rejectedPoints === 0) return { rejectedPoints };
  const message = Object.entries(skipped)
    .map(([reason, n]) => `${n} points skipped (${reason}): ${HINTS[reason] ?? reason}`)
    .join('; ');
  return { rejectedPoints, message };
}
