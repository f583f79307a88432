/** The project's one small exception family: bad input versus failures while running. */
package org.sparseattention.errors;
