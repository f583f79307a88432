/** The project's one small exception family (bad input versus failures while running) and its messages' counted nouns. */
package org.sparseattention.errors;
