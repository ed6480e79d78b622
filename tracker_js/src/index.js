// The entry point: start the tracker from our own <script> tag and take over the snippet's command queue.
// Nothing here may throw into the host page.
import { readConfig } from './config.js'
import { createTracker } from './tracker.js'

try {
  const script = document.currentScript // while a classic script runs, itself (async, defer or injected)
  // A snippet pasted twice must not track everything twice.
  if (!window.beacon?.loaded) createTracker(window, readConfig(script)).start()
} catch (error) {
  // A tracker that cannot start must leave the page as it was.
}
