"""The neural processing unit: arithmetic units, processing elements, systolic array."""
