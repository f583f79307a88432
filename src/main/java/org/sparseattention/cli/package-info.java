/** The command line (picocli): {@code run}, {@code layout}, {@code generate} and {@code bench}. */
package org.sparseattention.cli;
