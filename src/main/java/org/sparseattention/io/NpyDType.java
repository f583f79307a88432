package org.sparseattention.io;

import java.nio.ByteOrder;

/** The floating-point element types read from {@code .npy} files; all are converted to float32. */
public enum NpyDType {
    FLOAT32(4, "f4"),
    FLOAT64(8, "f8"),
    FLOAT16(2, "f2");

    private final int size;
    private final String code;

    NpyDType(int size, String code) {
        this.size = size;
        this.code = code;
    }

    /** Returns the bytes per element. */
    public int size() {
        return size;
    }

    /** Returns the NumPy type string in byte order {@code order}, e.g. {@code <f4}. */
    public String descr(ByteOrder order) {
        return (order == ByteOrder.LITTLE_ENDIAN ? "<" : ">") + code;
    }

    /** Returns the type with NumPy code {@code code} ({@code f4}, {@code f8}, {@code f2}) or null. */
    static NpyDType ofCode(String code) {
        for (NpyDType type : values()) {
            if (type.code.equals(code)) {
                return type;
            }
        }
        return null;
    }
}
