"""ROS 2 layer: the only part of the package that imports rclpy and message types.

Submodules import rclpy / message packages lazily or at their top as they need; importing this
package itself loads nothing from ROS.
"""
