/**
 * Tensor files: a strict reader and a writer for NumPy's {@code .npy} format (format versions
 * 1.0, 2.0 and 3.0), and positioned reads of row ranges through the small {@link
 * org.sparseattention.io.Storage} interface, implemented on Hadoop's {@code FileSystem} so that
 * {@code file://}, {@code hdfs://} and {@code s3a://} URIs all work; and the commands' own files
 * ({@link org.sparseattention.io.WholeFiles}) written whole or not at all.
 */
package org.sparseattention.io;
