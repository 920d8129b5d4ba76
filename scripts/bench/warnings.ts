/**
 * kafkajs 2.2.4 arms a timer with a negative delay whenever its request queue is not throttled
 * (requestQueue/index.js, scheduleCheckPendingRequests), and Node 24 prints a
 * TimeoutNegativeWarning for it. Harmless (Node uses 1 ms), but it would be the one line of noise
 * in the demo's output; every other warning is still printed.
 */
export function hideKafkajsTimerWarning(): void {
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    for (const print of printers) print(warning);
  });
}
