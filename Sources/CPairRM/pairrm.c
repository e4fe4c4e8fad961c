/* Intentionally empty: CPairRM only carries the public header include/pairrm.h.
 * The functions are implemented in Swift (Sources/PairRMC, `@c @implementation`). */
